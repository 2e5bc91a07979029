"""Which columns a list page shows, in which order, and which columns its export writes.

A list's columns are its django-tables2 table's (tracker/tables.py). A user's choice is
stored per list (``ListColumns``, written by ``saved_views.set_columns``); ``?columns=a,b,c``
in the URL (and so in a saved view) overrides it, ``?columns=all`` asks for every column.
``EXPORT_HEADERS`` is the one map between a table column and the export columns
(tracker/exports.py) that carry it: an export follows the chosen columns, in their order,
and writes every export column when nothing was chosen or ``columns=all`` was asked.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .choices import ListName
from .tables import InspectionTable, ProblemTable, ProjectTable

PARAM = "columns"
ALL = "all"
TABLES = {
    ListName.PROJECTS: ProjectTable,
    ListName.PROBLEMS: ProblemTable,
    ListName.INSPECTIONS: InspectionTable,
}
# table column → the headers of its export columns (tracker.exports COLUMNS,
# PROBLEM_COLUMNS, INSPECTION_COLUMNS), in the export's order.
EXPORT_HEADERS = {
    ListName.PROJECTS: {
        "code": ("项目编号",),
        "name": ("项目名称",),
        "enterprise": ("企业名称",),
        "region": ("县(市、区)",),
        "chain": ("产业链",),
        "signed_on": ("签约日期",),
        "signed_amount": ("签约金额(万元)", "签约金额(亿元)"),
        "tier_5020": ("5020项目", "5020档次"),
        "billion": ("亿元以上",),
        "stage": ("项目阶段",),
        "light": ("预警灯",),
    },
    ListName.PROBLEMS: {
        "id": ("编号",),
        "title": ("问题",),
        "chain": ("产业链",),
        "region": ("县(市、区)",),
        "project": ("项目编号", "项目名称"),
        "status": ("状态", "逾期起始日", "督办"),
        "assigned_unit": ("责任单位",),
        "deadline": ("办理时限",),
        "raised_on": ("提出日期",),
    },
    ListName.INSPECTIONS: {
        "period": ("年度", "季度"),
        "region": ("县(市、区)",),
        "title": ("督查名称",),
        "project": ("项目编号", "项目名称"),
        "inspected_on": ("督查日期",),
        "leader": ("带队领导",),
        "item_count": ("整改事项数",),
        "open_count": ("未整改",),
        "done_count": ("已整改待核验",),
        "overdue_count": ("逾期",),
    },
}


# Columns that are controls, not data (the bulk change's boxes): never chosen, never hidden
# by a choice, never exported.
CONTROLS = {"...", "select"}


def names(list_name):
    """Every data column of the list's table, in its default order."""
    return [name for name in TABLES[list_name].Meta.sequence if name not in CONTROLS]


def headers(list_name):
    """(column name, header as the table shows it) of every column, in the default order."""
    table_class = TABLES[list_name]
    table = table_class(table_class._meta.model.objects.none())
    return [(name, table.columns[name].header) for name in names(list_name)]


def parse(list_name, text):
    """The column names of ``text`` ("code,name,stage"), or None for ``all``; a
    ValidationError names the unknown ones, a repeated or empty choice."""
    text = (text or "").strip()
    if text == ALL:
        return None
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    return clean(list_name, chosen)


def clean(list_name, chosen):
    """``chosen`` (a list of column names) checked: known, each once, at least one."""
    known = set(names(list_name))
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ValidationError(
            _("Unknown column: %(names)s."), params={"names": ", ".join(unknown)[:200]}
        )
    if len(set(chosen)) != len(chosen):
        raise ValidationError(_("A column is chosen twice."))
    if not chosen:
        raise ValidationError(_("Choose at least one column."))
    return list(chosen)


def resolve(list_name, param, stored):
    """(the columns chosen or None for the default, the error of a bad ``param`` or None).

    ``param`` is the URL's ``columns`` value (None when absent): it wins over ``stored``,
    the user's stored choice; ``all`` is the default columns whatever is stored. A bad
    ``param`` is reported and the stored choice used instead. A stored choice naming a
    column that no longer exists drops that column.
    """
    if param is not None:
        try:
            return parse(list_name, param), None
        except ValidationError as error:
            problem = error
    else:
        problem = None
    if stored:
        known = set(names(list_name))
        stored = [name for name in stored if name in known]
    return (stored or None), problem


def table_kwargs(list_name, chosen):
    """The table's ``exclude`` and ``sequence`` for ``chosen`` (None: the default)."""
    if not chosen:
        return {}
    return {
        "exclude": [name for name in names(list_name) if name not in chosen],
        "sequence": [*chosen, "..."],
    }


def export_headers(list_name, chosen):
    """The export headers of ``chosen`` in its order, or None (every export column)."""
    if not chosen:
        return None
    mapping = EXPORT_HEADERS[list_name]
    return [header for name in chosen for header in mapping[name]]
