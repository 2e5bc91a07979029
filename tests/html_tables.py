"""Read a rendered HTML table back as rows of cells (standard library parser only).

Sorting tests compare what the page shows, in the order it shows it, with an order computed
from the test's own data; the table object in the view's context could be right while the
page is not.
"""

from html.parser import HTMLParser


class Cell:
    def __init__(self):
        self.parts = []
        self.classes = set()  # the classes of the elements inside the cell

    @property
    def text(self):
        return " ".join("".join(self.parts).split())


class _TableReader(HTMLParser):
    def __init__(self, table_class):
        super().__init__()
        self.table_class = table_class
        self.depth = 0  # nesting of tables from the wanted one (0: outside it)
        self.in_body = False
        self.rows = []
        self.cell = None

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "table":
            if self.depth:
                self.depth += 1
            elif self.table_class in classes and not self.rows:
                self.depth = 1
            return
        if self.depth != 1:
            return
        if tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.rows.append([])
        elif self.in_body and tag == "td":
            self.cell = Cell()
            self.rows[-1].append(self.cell)
        elif self.cell is not None:
            self.cell.classes |= classes

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth == 1 and tag == "tbody":
            self.in_body = False
        elif self.depth == 1 and tag == "td":
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.parts.append(data)


def table_rows(html, table_class):
    """The body rows of the first ``<table class="table_class">``: a list of lists of Cell."""
    reader = _TableReader(table_class)
    reader.feed(html)
    reader.close()
    assert reader.rows, f"no rows in a table of class {table_class!r}"
    return reader.rows


def column(response, table_class, index):
    """The text of cell ``index`` of every body row, top to bottom."""
    html = response.content.decode()
    return [row[index].text for row in table_rows(html, table_class)]
