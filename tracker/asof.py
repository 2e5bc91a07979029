"""Per-row as-of values computed once per row: a side table joined to a Project queryset.

Why
    ``querysets.stage_as_of(day)`` and friends are correlated subqueries. An annotation that
    refers to another (``F("lights_stage")`` in ten ``When`` clauses) gets the referred
    expression written out again, and PostgreSQL runs every copy for every row: the lights
    query held 54 copies of the stage subquery. Here each distinct as-of value is one join of
    the query, and annotations read its columns (a plain ``"T5"."stage"``), so however often a
    figure is referred to, the database computes it once per row.

What
    ``per_row(queryset, name=VALUE, ...)`` annotates ``name`` with one of the values below and
    returns the queryset. Values that share a source share a join: the stage as of D and the
    furthest stage reached by D come from one pass over the project's stage history of D;
    asking again for a value the queryset already joins reuses that join (the monthly report's
    rows and their lights read one stage-as-of-D join).

    ``StageAsOf(day)``          the ``to_stage`` of the latest change effective on or before
                                ``day`` (the later id wins on the same day), NULL without one:
                                ``querysets.stage_as_of``.
    ``FurthestReached(day)``    the furthest main-line stage reached by ``day``, as its position
                                on the main line (0 = signed … 5 = in production), NULL without
                                such a change; ``reached(name, stage)`` is the Q of
                                ``querysets.reached_stage(stage, day)``.
    ``FirstStop()``             the day of the first change to terminated or in production
                                (any day), NULL without one.
    ``InvestmentAsOf(day)``     the cumulative completed investment of the latest dispatch of a
                                week that began on or before ``day``, 0 without one:
                                ``querysets.investment_as_of``.
    ``InvestmentBeforeYear(y)`` the same for the latest dispatch of an ISO year before ``y``:
                                ``querysets.investment_before_year``.
    ``LatestReport()``          the ISO year of the project's latest weekly dispatch (any week),
                                NULL without one; ``LatestReportWeek()`` its ISO week and
                                ``LatestReportLate()`` its ``is_late``, from the same join.
    ``LatestReportSince(y, w)`` the same among the dispatches of week ``w`` of ``y`` or later
                                (``…SinceWeek``, ``…SinceLate``), NULL when none is as recent.
    ``ReportOfWeek(y, w)``      the id of the project's dispatch of ISO week ``w`` of ``y``, NULL
                                without one; ``ReportOfWeekLate(y, w)`` its ``is_late``.

How
    PostgreSQL: ``LEFT JOIN LATERAL (SELECT … WHERE project_id = <row>.id ORDER BY … LIMIT 1)
    AS T ON TRUE``, one index probe per row, only for the rows the query reaches (a county's
    home page does not read the rest of the province). SQLite, which has no LATERAL: a keyed
    derived table, ``LEFT JOIN (SELECT project_id, … ROW_NUMBER() OVER (PARTITION BY project_id
    …) …  WHERE rn = 1) AS T ON T.project_id = <row>.id``. Either way the join gives at most one
    row per project, so counts and sums are unchanged.

    The join is a ``Join``-like object placed in the query's alias map (Django compiles every
    entry there into the FROM clause and relabels it when the queryset becomes a subquery);
    ``SideColumn`` reads one of its columns.
"""

import datetime
from decimal import Decimal

from django.db import models
from django.db.models import Expression, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import LOUTER

from .choices import Stage
from .money import MONEY

# --- the values -------------------------------------------------------------------------------


class _Value:
    """A per-row value: which source (``source_key``) and which of its columns."""

    column = None
    output_field = None

    def source_key(self):
        raise NotImplementedError

    def expression(self, column):
        """The annotation made of the side table's column (a ``SideColumn``)."""
        return column


class StageAsOf(_Value):
    column = "stage"
    output_field = models.CharField()

    def __init__(self, day):
        self.day = _date(day)

    def source_key(self):
        return ("stage", self.day)


class FurthestReached(StageAsOf):
    column = "furthest"
    output_field = models.IntegerField()


class FirstStop(_Value):
    column = "stop_on"
    output_field = models.DateField()

    def source_key(self):
        return ("stop",)


class InvestmentAsOf(_Value):
    column = "investment"
    output_field = MONEY

    def __init__(self, day):
        self.day = _date(day)

    def source_key(self):  # the figure changes by ISO week: days of one week share a join
        year, week, _weekday = self.day.isocalendar()
        return ("investment", year, week)

    def expression(self, column):
        return Coalesce(column, Value(Decimal(0)), output_field=MONEY)


class InvestmentBeforeYear(InvestmentAsOf):
    def __init__(self, year):
        self.year = int(year)

    def source_key(self):
        return ("investment_before", self.year)


class LatestReport(_Value):
    column = "last_year"
    output_field = models.IntegerField()

    def source_key(self):
        return ("latest_report",)


class LatestReportWeek(LatestReport):
    column = "last_week"


class LatestReportLate(LatestReport):
    column = "last_late"
    output_field = models.BooleanField()


class LatestReportSince(LatestReport):
    """``LatestReport`` among the dispatches of ISO week ``(y, w)`` or later: the latest one
    when it is that recent, NULL otherwise (a bounded range of the project's index);
    ``LatestReportSinceWeek`` and ``LatestReportSinceLate`` read its week and ``is_late``."""

    def __init__(self, iso_year, iso_week):
        self.iso_year, self.iso_week = int(iso_year), int(iso_week)

    def source_key(self):
        return ("latest_report", self.iso_year, self.iso_week)


class LatestReportSinceWeek(LatestReportSince):
    column = "last_week"


class LatestReportSinceLate(LatestReportSince):
    column = "last_late"
    output_field = models.BooleanField()


class ReportOfWeek(_Value):
    column = "report_id"
    output_field = models.IntegerField()

    def __init__(self, iso_year, iso_week):
        self.iso_year, self.iso_week = int(iso_year), int(iso_week)

    def source_key(self):
        return ("week_report", self.iso_year, self.iso_week)


class ReportOfWeekLate(ReportOfWeek):
    column = "report_late"
    output_field = models.BooleanField()


def _date(day):
    if not isinstance(day, datetime.date) or isinstance(day, datetime.datetime):
        raise TypeError("an as-of value needs a date")
    return day


def reached(name, stage):
    """Q: the ``FurthestReached`` annotation ``name`` is at ``stage`` or later on the main line
    (the same rows as ``querysets.reached_stage(stage, day)``)."""
    return Q(**{f"{name}__gte": Stage.order(stage)})


# --- the join ---------------------------------------------------------------------------------


class SideJoin:
    """``LEFT JOIN <per-row source> AS alias ON …``, an entry of ``Query.alias_map``.

    It carries what Django's compiler and alias relabelling ask of a ``Join``."""

    join_type = LOUTER
    nullable = True
    filtered_relation = None
    join_field = None

    def __init__(self, key, table_name, parent_alias, table_alias):
        self.key = key
        self.table_name = table_name
        self.parent_alias = parent_alias
        self.table_alias = table_alias

    @property
    def identity(self):
        return (self.__class__, self.key, self.parent_alias, self.table_alias)

    def __eq__(self, other):
        if not isinstance(other, SideJoin):
            return NotImplemented
        return self.identity == other.identity

    def __hash__(self):
        return hash(self.identity)

    def equals(self, other):
        return self == other

    def relabeled_clone(self, change_map):
        return self.__class__(
            self.key,
            self.table_name,
            change_map.get(self.parent_alias, self.parent_alias),
            change_map.get(self.table_alias, self.table_alias),
        )

    def demote(self):
        return self

    def promote(self):
        return self

    def as_sql(self, compiler, connection):
        if not _used(compiler, self.table_alias):
            return "", []  # nothing reads it (a count of the set, its totals): no join
        return self._join_sql(compiler, connection)

    def _join_sql(self, compiler, connection):
        from .models import StageChange, WeeklyDispatch  # lazy: the models import querysets

        qn = connection.ops.quote_name
        # as Django writes aliases: a relabelled one (U0) unquoted, a table name quoted
        parent_pk = f"{compiler.quote_name_unless_alias(self.parent_alias)}.{qn('id')}"
        lateral = connection.vendor == "postgresql"
        kind, *args = self.key
        if kind in ("stage", "stop"):
            table = qn(StageChange._meta.db_table)
            if kind == "stage":
                cases = " ".join(
                    f"WHEN '{stage.value}' THEN {position}"
                    for position, stage in enumerate(Stage.main_line())
                )
                # the furthest of all the rows of the day, read on the latest one
                window = "" if lateral else "PARTITION BY project_id"
                columns = f"to_stage AS stage, MAX(CASE to_stage {cases} END) OVER ({window}) "
                columns += "AS furthest"
                where = "effective_on <= %s"
                params = [connection.ops.adapt_datefield_value(args[0])]
                order = "effective_on DESC, id DESC"
            else:
                columns = "effective_on AS stop_on"
                where = "to_stage IN (%s, %s)"
                params = [Stage.TERMINATED.value, Stage.PRODUCTION.value]
                order = "effective_on, id"
        elif kind == "latest_report":
            table = qn(WeeklyDispatch._meta.db_table)
            columns = "iso_year AS last_year, iso_week AS last_week, is_late AS last_late"
            where, params = "1 = 1", []
            if args:  # since a week: a row comparison, one range of the project's index
                where, params = "(iso_year, iso_week) >= (%s, %s)", list(args)
            order = "iso_year DESC, iso_week DESC"
        elif kind == "week_report":
            table = qn(WeeklyDispatch._meta.db_table)
            columns = "id AS report_id, is_late AS report_late"
            # at most one a week (dispatch_one_per_project_week): the unique index serves it
            where, params = "iso_year = %s AND iso_week = %s", list(args)
            order = "id"
        else:
            table = qn(WeeklyDispatch._meta.db_table)
            columns = "completed_investment AS investment"
            if kind == "investment":
                year, week = args
                # a row comparison: one backward range scan of the (project, year, week) index
                where = "(iso_year, iso_week) <= (%s, %s)"
                params = [year, week]
            else:
                where, params = "iso_year < %s", [args[0]]
            order = "iso_year DESC, iso_week DESC"
        alias = compiler.quote_name_unless_alias(self.table_alias)
        if lateral:
            sql = (
                f"LEFT JOIN LATERAL (SELECT {columns} FROM {table} "
                f"WHERE project_id = {parent_pk} AND {where} ORDER BY {order} LIMIT 1) "
                f"{alias} ON TRUE"
            )
        else:
            sql = (
                f"LEFT JOIN (SELECT * FROM (SELECT project_id, {columns}, "
                f"ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY {order}) AS rn "
                f"FROM {table} WHERE {where}) WHERE rn = 1) {alias} "
                f"ON {alias}.project_id = {parent_pk}"
            )
        return sql, params


def _used(compiler, alias):
    """Whether the query being compiled reads a column of the join ``alias``: its select,
    ordering, where, having and qualify, and the subqueries in them (an ``OuterRef`` to an
    annotation brings the outer column inside). A count or a sum over the set that no longer
    reads the annotation (Django drops it) then costs no join at all. Called from the FROM
    clause, which the compiler builds after select and ordering, once ``where`` is split.

    The query is walked once per compilation for all its joins (the aliases read are kept on
    the compiler): walking it, and compiling its ordering, again per join cost more than the
    query's own compilation on the home page."""
    key = (id(compiler.where), id(compiler.select))
    cached = getattr(compiler, "_asof_used", None)
    if cached is None or cached[0] != key:
        cached = compiler._asof_used = (key, _aliases_read(compiler))
    return alias in cached[1]


def _aliases_read(compiler):
    """The aliases of the ``SideColumn``s the query being compiled reads (see ``_used``)."""
    found = set()
    roots = [expr for expr, _sql, _alias in compiler.select]
    roots += [expr for expr, _rest in compiler.get_order_by()]
    roots += [getattr(compiler, name, None) for name in ("where", "having", "qualify")]
    stack, seen = [node for node in roots if node is not None], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SideColumn):
            found.add(node.alias)
            continue
        if isinstance(node, Query):
            stack += [node.where, *node.annotations.values()]
            stack += [o for o in node.order_by if not isinstance(o, str)]
            continue
        if hasattr(node, "get_source_expressions"):
            stack += [child for child in node.get_source_expressions() if child is not None]
    return found


class SideColumn(Expression):
    """One column of a ``SideJoin``: ``"alias"."column"``."""

    contains_aggregate = False

    def __init__(self, alias, column, output_field):
        super().__init__(output_field=output_field)
        self.alias, self.column = alias, column

    def __repr__(self):
        return f"{self.__class__.__name__}({self.alias}.{self.column})"

    def as_sql(self, compiler, connection):
        alias = compiler.quote_name_unless_alias(self.alias)
        return f"{alias}.{connection.ops.quote_name(self.column)}", []

    def relabeled_clone(self, change_map):
        return self.__class__(
            change_map.get(self.alias, self.alias), self.column, self.output_field
        )

    def get_group_by_cols(self):
        return [self]

    @property
    def identity(self):
        return (self.__class__, self.alias, self.column)

    def __eq__(self, other):
        return isinstance(other, SideColumn) and self.identity == other.identity

    def __hash__(self):
        return hash(self.identity)


def side_column(queryset, value):
    """(queryset, expression): ``value`` read from the queryset's join of its source, joined
    now when the queryset has none yet. The queryset returned is a clone."""
    queryset = queryset.all()
    query = queryset.query
    key = value.source_key()
    for alias, join in query.alias_map.items():
        if isinstance(join, SideJoin) and join.key == key:
            query.alias_refcount[alias] += 1
            break
    else:
        parent = query.get_initial_alias()
        table_name = "asof_" + "_".join(
            part.strftime("%Y%m%d") if isinstance(part, datetime.date) else str(part)
            for part in key
        )
        alias, _created = query.table_alias(table_name, create=True)
        query.alias_map[alias] = SideJoin(key, table_name, parent, alias)
        query.alias_refcount[alias] = 1
    column = SideColumn(alias, value.column, value.output_field)
    return queryset, value.expression(column)


def per_row(queryset, **values):
    """``queryset`` annotated with each ``name=VALUE`` (see the module doc), each distinct
    source computed once per row whatever refers to it afterwards."""
    annotations = {}
    for name, value in values.items():
        queryset, annotations[name] = side_column(queryset, value)
    return queryset.annotate(**annotations)
