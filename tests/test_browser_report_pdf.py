"""The 月通报 on paper: a manager publishes December 2022 of the seeded book through the
confirmation page, and Chromium prints version 1 with the print stylesheet (page.pdf(),
what "Save as PDF" gives a reader). The PDF is read back with the few lines below (no PDF
library is installed): its pages, and the text each page draws.

Before issue 9 the print was 5 pages, the second one holding three table rows; now it is
3 pages, each well filled, numbered "n / 3", the tables broken between rows with their
header rows repeated, headed by the issuing body, the reference number and the issue date.
"""

import re
import zlib
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.conftest import login
from tests.test_tasks import run_queued_jobs
from tracker.choices import Role
from tracker.models import MonthlyReport

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# --- reading a PDF that Chromium (Skia) wrote ------------------------------------------------
# Skia writes plain objects (no object streams), page contents as FlateDecode streams, text
# as 2-byte glyph ids with a ToUnicode map per font. A glyph missing from every installed
# font (Chinese on a machine without CJK fonts) is drawn as glyph 0 inside a marked span
# that carries its text (/ActualText); the first such glyph of a run is not always wrapped,
# and reads as U+FFFD. ``appears`` accepts U+FFFD in place of any character.
OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
TEXT = re.compile(
    rb"/Span\s*<<\s*/ActualText\s*<([0-9A-Fa-f]*)>\s*>>\s*BDC.*?EMC"  # a span with its text
    rb"|/(\w+)\s+[\d.]+\s+Tf"  # a font chosen
    rb"|\[(.*?)\]\s*TJ|<([0-9A-Fa-f]*)>\s*Tj",  # glyphs drawn
    re.S,
)


def _stream(body):
    match = re.search(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S)
    data = match.group(1)
    return zlib.decompress(data) if b"/FlateDecode" in body[: match.start()] else data


def _unicode_map(cmap):
    table = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for glyph, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(glyph, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, first in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            for offset, glyph in enumerate(range(int(low, 16), int(high, 16) + 1)):
                table[glyph] = chr(int(first, 16) + offset)
    return table


def _leaves(objects, number):
    """The page objects under page-tree node ``number``, in order (Skia nests 8 a node)."""
    node = objects[number]
    if not re.search(rb"/Type\s*/Pages\b", node):
        yield node
        return
    kids = re.search(rb"/Kids\s*\[(.*?)\]", node, re.S).group(1)
    for ref in re.findall(rb"(\d+) 0 R", kids):
        yield from _leaves(objects, int(ref))


def pdf_pages(pdf):
    """The text each page of ``pdf`` draws, in drawing order, one string per page."""
    objects = {int(m.group(1)): m.group(2) for m in OBJECT.finditer(pdf)}
    root = re.search(rb"/Type\s*/Catalog\b.*?/Pages (\d+) 0 R", pdf, re.S).group(1)
    pages = []
    for page in _leaves(objects, int(root)):
        fonts = {}
        font_dict = re.search(rb"/Font\s*<<(.*?)>>", page, re.S)
        for name, number in re.findall(rb"/(\w+) (\d+) 0 R", font_dict.group(1)):
            to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(number)])
            fonts[name] = _unicode_map(_stream(objects[int(to_unicode.group(1))]))
        content = _stream(objects[int(re.search(rb"/Contents (\d+) 0 R", page).group(1))])
        text, font = [], {}
        for span, font_name, array, single in TEXT.findall(content):
            if span:
                text.append(bytes.fromhex(span.decode()).decode("utf-16"))  # BOM first
            elif font_name:
                font = fonts.get(font_name, {})
            else:
                for glyphs in re.findall(rb"<([0-9A-Fa-f]*)>", array) if array else [single]:
                    text += [
                        font.get(int(glyphs[i : i + 4], 16), "\ufffd")
                        for i in range(0, len(glyphs), 4)
                    ]
        pages.append("".join(text))
    return pages


def appears(needle, haystack):
    """``needle`` in ``haystack``, any character of it possibly read as U+FFFD (see above)."""
    pattern = "".join(f"[{re.escape(c)}\ufffd]" for c in needle)
    return re.search(pattern, haystack) is not None


def test_pdf_reader_reads_what_chromium_draws(browser_page):
    """The reader above against a page whose text the test wrote itself: it can fail."""
    page = browser_page
    page.set_content("<p>Page one 12345 宜春市</p><p style='break-before: page'>Page two</p>")
    pages = pdf_pages(page.pdf())
    assert len(pages) == 2
    assert "Page one 12345" in pages[0] and appears("宜春市", pages[0])
    assert "Page two" in pages[1] and "Page one" not in pages[1]
    assert not appears("襄阳", pages[0])


# --- the printed report ---------------------------------------------------------------------
# Two books as of 9 January 2023: the demo's (DEBUG: with the generated stage history and
# dispatches, 25 red/yellow projects in December) and the book at signing (what a
# production load holds: every project still 签约, over a hundred red lights). Before issue
# 9 the demo book's December printed on 5 pages, the second holding three table rows.
BOOKS = {"demo": {"debug": True, "max_pages": 3}, "signing": {"debug": False, "max_pages": 10}}
PAGES_BEFORE_ISSUE_9 = {"demo": 5, "signing": 13}
MIN_TEXT_PER_PAGE = 600  # characters a page draws besides its running head and number


@pytest.fixture(params=sorted(BOOKS))
def book(request):
    with override_settings(DEBUG=BOOKS[request.param]["debug"]):  # DEBUG: the history too
        call_command("seed", "--today", "2023-01-09", "--no-demo-users", stdout=StringIO())
    factories.user(Role.MANAGER, username="boss")
    return request.param


def test_a_published_version_prints_as_a_short_numbered_document(browser_page, book):
    page = browser_page
    login(page, "boss", factories.PASSWORD)
    page.goto(page.base_url + "/reports/monthly/2022-12/")
    page.click("#publish")
    page.wait_for_url("**/reports/monthly/2022-12/publish/")
    expect(page.locator("#publish-freeze")).to_contain_text("2022年12月31日")
    expect(page.locator("#publish-freeze")).to_contain_text("第 1 版")
    assert not MonthlyReport.objects.exists()  # the confirmation page publishes nothing
    page.click("#confirm-publish")
    page.wait_for_url("**/jobs/*/")  # publishing runs as a background job: its page
    run_queued_jobs()  # what a worker does; the page refreshes by itself and opens v1
    page.wait_for_url("**/reports/monthly/2022-12/v1/")
    report = MonthlyReport.objects.get()
    today = timezone.localdate(report.published_at)

    page.emulate_media(media="print")
    pages = pdf_pages(page.pdf(prefer_css_page_size=True, print_background=True))
    count = len(pages)
    assert count <= BOOKS[book]["max_pages"], (
        f"{count} pages (before: {PAGES_BEFORE_ISSUE_9[book]})"
    )

    running_head = "宜春市工业项目月通报（2022年12月） · v1"
    for number, text in enumerate(pages, start=1):
        assert appears(running_head, text), f"page {number} has no running head"
        assert f"{number} / {count}" in text, f"page {number} is not numbered"
        body = text.replace(f"{number} / {count}", "", 1)
        assert len(body) - len(running_head) >= MIN_TEXT_PER_PAGE, f"page {number} is near-empty"

    first = pages[0]
    assert appears("宜春市工业和信息化局", first)
    assert appears("宜工信通〔2022〕12号", first)
    assert appears(f"印发日期：{today.year}年{today.month}月{today.day}日", first)
    assert not appears("未发布（草稿）", "".join(pages))
    assert appears("数据说明", pages[-1]) and not re.search("20\\d\\d- ?W\\d\\d", "".join(pages))

    # Tables break between rows: each red/yellow row is whole on one page, and a page that
    # continues the table repeats its header row.
    # The page (and so the print) lists the most urgent REPORT_WARNINGS_ON_PAGE of them, in
    # the published order; the XLSX has them all.
    warnings = report.data["warnings"]
    assert len(warnings) == {"demo": 25, "signing": 216}[book]
    shown = warnings[: settings.TRACKER["REPORT_WARNINGS_ON_PAGE"]]
    printed = "".join(pages)
    if len(shown) < len(warnings):  # and it says so
        assert appears(f"此处列出全部{len(warnings)}个中最紧急的{len(shown)}个", printed)
    assert not [w for w in warnings[len(shown) :] if w["code"] in printed]
    on = {}
    for w in shown:
        (number,) = [i for i, text in enumerate(pages) if w["code"] in text]
        assert appears(w["reasons"][-1], pages[number]), f"{w['code']} split across pages"
        on.setdefault(number, []).append(w["code"])
    assert len(on) >= 2, "the list did not need two pages: the header check proves nothing"
    for number in on:
        assert appears("预警灯项目县", pages[number]), f"page {number} repeats no header"
    assert page.console_errors == []
