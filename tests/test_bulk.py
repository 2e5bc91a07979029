"""Bulk changes on the project list (issue 11, item 3): exactly the confirmed set, row by row
through the project service, refused rows listed, all or nothing on request."""

import datetime
import html
import re
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tracker import bulk
from tracker.choices import Role, Stage
from tracker.models import ChangeLog, Project, StageChange
from tracker.services import update_project

pytestmark = pytest.mark.django_db

LIST = reverse("tracker:project_list")
BULK = reverse("tracker:project_bulk")
APPLY = reverse("tracker:project_bulk_apply")
OLD_UNIT = "旧责任单位"
NEW_UNIT = "新责任单位"


@pytest.fixture(autouse=True)
def _in_the_request(settings):
    """These tests apply in the request; tests/test_bulk_worker.py runs a large change as a
    background job."""
    settings.TRACKER = {**settings.TRACKER, "BULK_BACKGROUND_ROWS": 10**6}


@pytest.fixture
def world():
    a, b = factories.region(name="甲县"), factories.region(name="乙县")
    chain = factories.chain()
    return {
        "a": a,
        "b": b,
        "chain": chain,
        "enterprise_a": factories.enterprise(region=a),
        "enterprise_b": factories.enterprise(region=b),
        "manager": factories.user(Role.MANAGER),
        "county": factories.user(Role.COUNTY, region=a),
    }


def many(world, n, *, region="a", year=2022, prefix="P"):
    """``n`` projects in one statement (bulk_create), responsible unit OLD_UNIT."""
    enterprise = world[f"enterprise_{region}"]
    rows = [
        Project(
            code=f"{prefix}{i:05d}",
            name=f"批量项目{prefix}{i}",
            region=world[region],
            enterprise=enterprise,
            chain=world["chain"],
            signed_on=datetime.date(year, 3, 1),
            signed_amount=Decimal("1000"),
            responsible_unit=OLD_UNIT,
        )
        for i in range(n)
    ]
    return Project.objects.bulk_create(rows)


def hidden_inputs(response, form_id="bulk-step-form"):
    """[(name, value)] of the hidden inputs of the page's step form."""
    body = response.content.decode()
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', body, re.S)
    assert form, body
    return [
        (name, html.unescape(value))
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)
        )
        if name != "csrfmiddlewaretoken"
    ]


def confirm(client, *, field, value, scope="all", query="", ids=(), all_or_nothing=False):
    """The list's post, then the value page's: returns the confirmation page."""
    start = client.post(BULK, {"query": query, "scope": scope, "field": field, "ids": list(ids)})
    assert start.status_code == 200
    assert 'id="bulk-value"' in start.content.decode(), start.content.decode()
    data = hidden_inputs(start) + list(value.items()) + [("step", "review")]
    if all_or_nothing:
        data.append(("all_or_nothing", "on"))
    return client.post(BULK, _multi(data))


def _multi(pairs):
    out = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def apply(client, confirmation):
    assert 'id="bulk-confirm"' in confirmation.content.decode(), confirmation.content.decode()
    return client.post(APPLY, _multi(hidden_inputs(confirmation)))


def units():
    return dict(Project.objects.values_list("pk", "responsible_unit"))


def history_notes(ids, field):
    ctype = ContentType.objects.get_for_model(Project)
    return dict(
        ChangeLog.objects.filter(content_type=ctype, object_id__in=ids, field=field).values_list(
            "object_id", "note"
        )
    )


@pytest.mark.parametrize("n", [5, 5000])
def test_all_matching_changes_exactly_the_filtered_set(client, world, n):
    inside = many(world, n)
    many(world, 3, year=2021, prefix="Y")  # same region, another year
    many(world, 4, region="b", prefix="B")  # the year, another region
    client.force_login(world["manager"])
    query = f"region={world['a'].pk}&signed_year=2022&sort=code"
    # The filter's set, computed here without the FilterSet.
    expected = set(
        Project.objects.filter(region=world["a"], signed_on__year=2022).values_list("pk", flat=True)
    )
    assert expected == {p.pk for p in inside} and len(expected) == n
    before = units()

    confirmation = confirm(
        client, field="responsible_unit", value={"responsible_unit": NEW_UNIT}, query=query
    )
    body = confirmation.content.decode()
    assert f'<dd id="bulk-count">{n}</dd>' in body
    assert "甲县" in body and "2022" in body  # the filter in words
    assert NEW_UNIT in body
    result = apply(client, confirmation)

    assert result.status_code == 200
    assert 'id="bulk-applied"' in result.content.decode()
    after = units()
    changed = {pk for pk in after if after[pk] != before[pk]}
    assert changed == expected
    assert all(after[pk] == NEW_UNIT for pk in expected)
    assert all(after[pk] == OLD_UNIT for pk in set(after) - expected)
    notes = history_notes(expected, "responsible_unit")
    assert set(notes) == expected
    assert set(notes.values()) == {f"批量修改（责任单位，{n}个项目）"}


def test_selected_rows_the_user_may_not_edit_are_refused_and_the_others_applied(client, world):
    mine = many(world, 2, prefix="M")
    theirs = many(world, 1, region="b", prefix="T")[0]  # county staff read it, may not edit
    # A worst-data name (tests/test_worst_data.py) on the result page: shown escaped.
    Project.objects.filter(pk=theirs.pk).update(name='<b id="x">坏\x0b名</b>')
    client.force_login(world["county"])
    ids = [p.pk for p in mine] + [theirs.pk]
    confirmation = confirm(
        client,
        field="responsible_unit",
        value={"responsible_unit": NEW_UNIT},
        scope="selected",
        ids=ids,
    )
    assert "其中您可修改 2 个，其余将被拒绝" in confirmation.content.decode()
    result = apply(client, confirmation)
    body = result.content.decode()
    after = units()
    assert {after[p.pk] for p in mine} == {NEW_UNIT}
    assert after[theirs.pk] == OLD_UNIT
    refused = re.search(r'<ul class="bulk-refused".*?</ul>', body, re.S).group(0)
    assert theirs.code in refused and "不在您的权限范围" in refused
    assert "&lt;b id=&quot;x&quot;&gt;" in refused and '<b id="x">' not in body
    assert mine[0].code not in refused


def test_rows_the_user_cannot_see_are_not_changed_and_said(client, world):
    theirs = many(world, 1, region="b", prefix="T")[0]
    commissioner = factories.user(Role.COMMISSIONER)
    own = many(world, 1, prefix="C")[0]
    own.commissioner = commissioner
    own.save(update_fields=["commissioner"])
    client.force_login(commissioner)
    before = units(), ChangeLog.objects.count()
    response = client.post(
        BULK, {"scope": "selected", "field": "responsible_unit", "ids": [own.pk, theirs.pk]}
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'id="bulk-problem"' in body
    assert "1 个所选项目不存在或您无权查看" in body
    assert theirs.name not in body
    assert (units(), ChangeLog.objects.count()) == before


def test_a_set_changed_after_confirming_is_asked_again_and_nothing_changed(client, world):
    many(world, 3)
    client.force_login(world["manager"])
    query = f"region={world['a'].pk}"
    confirmation = confirm(
        client, field="responsible_unit", value={"responsible_unit": NEW_UNIT}, query=query
    )
    assert '<dd id="bulk-count">3</dd>' in confirmation.content.decode()
    many(world, 1, prefix="N")  # a fourth project now matches
    before = units(), ChangeLog.objects.count()

    again = apply(client, confirmation)
    body = again.content.decode()
    assert 'id="bulk-confirm"' in body
    assert '<dd id="bulk-count">4</dd>' in body
    assert "现为 4 个" in body  # the warning says the new count
    assert (units(), ChangeLog.objects.count()) == before

    # An edited row (its version moved) is a changed set too.
    edited = Project.objects.filter(region=world["a"]).first()
    Project.objects.filter(pk=edited.pk).update(version=edited.version + 1)
    assert 'id="bulk-confirm"' in apply(client, again).content.decode()
    assert (units(), ChangeLog.objects.count()) == before

    # Confirmed again as it is now: applied to the four.
    final = confirm(
        client, field="responsible_unit", value={"responsible_unit": NEW_UNIT}, query=query
    )
    apply(client, final)
    assert set(
        Project.objects.filter(region=world["a"]).values_list("responsible_unit", flat=True)
    ) == {NEW_UNIT}


def _staged(world):
    """Four projects of region A: two at 签约, one completed, one already started."""
    signed = [
        factories.project(region=world["a"], signed_on=datetime.date(2022, 3, 1)) for _ in range(2)
    ]
    completed = factories.project(
        region=world["a"],
        history=[
            (Stage.STARTED, datetime.date(2022, 4, 1)),
            (Stage.COMPLETED, datetime.date(2022, 6, 1)),
        ],
    )
    started = factories.project(
        region=world["a"], history=[(Stage.STARTED, datetime.date(2022, 4, 1))]
    )
    return signed, completed, started


def test_a_stage_change_follows_the_allowed_transitions_row_by_row(client, world):
    signed, completed, started = _staged(world)
    client.force_login(world["county"])
    on = datetime.date(2022, 5, 2)
    result = apply(
        client,
        confirm(
            client,
            field="stage",
            value={"stage": Stage.STARTED, "stage_on": on.isoformat()},
            query=f"region={world['a'].pk}",
        ),
    )
    body = result.content.decode()
    stages = dict(Project.objects.values_list("pk", "stage"))
    assert [stages[p.pk] for p in signed] == [Stage.STARTED, Stage.STARTED]
    assert stages[completed.pk] == Stage.COMPLETED  # moving back needs a manager
    assert stages[started.pk] == Stage.STARTED
    refused = re.search(r'<ul class="bulk-refused".*?</ul>', body, re.S).group(0)
    assert completed.code in refused and "退回" in refused
    assert signed[0].code not in refused and started.code not in refused
    assert 'id="bulk-unchanged"' in body  # the one already started
    moves = StageChange.objects.filter(project__in=signed, to_stage=Stage.STARTED)
    assert {m.effective_on for m in moves} == {on} and moves.count() == 2
    assert {m.note for m in moves} == {"批量修改（项目状态，4个项目）"}
    notes = history_notes([p.pk for p in signed], "stage")
    assert set(notes.values()) == {"批量修改（项目状态，4个项目）"}


def test_all_or_nothing_rolls_every_row_back_when_one_is_refused(client, world):
    _signed, completed, _started = _staged(world)
    client.force_login(world["county"])
    before = (
        dict(Project.objects.values_list("pk", "version")),
        StageChange.objects.count(),
        ChangeLog.objects.count(),
    )
    result = apply(
        client,
        confirm(
            client,
            field="stage",
            value={"stage": Stage.STARTED, "stage_on": "2022-05-02"},
            query=f"region={world['a'].pk}",
            all_or_nothing=True,
        ),
    )
    body = result.content.decode()
    assert 'id="bulk-rolled-back"' in body and completed.code in body
    after = (
        dict(Project.objects.values_list("pk", "version")),
        StageChange.objects.count(),
        ChangeLog.objects.count(),
    )
    assert after == before


def test_county_staff_are_not_offered_the_commissioner_and_cannot_post_it(client, world):
    many(world, 2)
    commissioner = factories.user(Role.COMMISSIONER)
    client.force_login(world["county"])
    page = client.get(LIST, {"region": world["a"].pk}).content.decode()
    assert 'id="bulk-form"' in page
    assert 'value="commissioner"' not in page and 'value="responsible_unit"' in page
    before = dict(Project.objects.values_list("pk", "commissioner_id")), ChangeLog.objects.count()
    response = client.post(
        BULK, {"scope": "all", "query": f"region={world['a'].pk}", "field": "commissioner"}
    )
    assert 'id="bulk-problem"' in response.content.decode()
    with pytest.raises(PermissionDenied):
        bulk.apply_bulk_change(
            by=world["county"],
            field="commissioner",
            value=commissioner,
            query=f"region={world['a'].pk}",
            fingerprint="",
        )
    assert (
        dict(Project.objects.values_list("pk", "commissioner_id")),
        ChangeLog.objects.count(),
    ) == before


def test_a_manager_assigns_a_commissioner_in_bulk(client, world):
    projects = many(world, 3)
    commissioner = factories.user(Role.COMMISSIONER, display_name="陈丽华")
    client.force_login(world["manager"])
    confirmation = confirm(
        client,
        field="commissioner",
        value={"commissioner": str(commissioner.pk)},
        scope="selected",
        ids=[p.pk for p in projects[:2]],
    )
    assert "陈丽华" in confirmation.content.decode()
    assert commissioner.username not in confirmation.content.decode()
    apply(client, confirmation)
    assigned = dict(Project.objects.values_list("pk", "commissioner_id"))
    assert [assigned[p.pk] for p in projects] == [commissioner.pk, commissioner.pk, None]
    notes = history_notes([p.pk for p in projects], "commissioner")
    assert set(notes) == {projects[0].pk, projects[1].pk}
    assert set(notes.values()) == {"批量修改（企业特派员，2个项目）"}


TOMORROW = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stage", {"stage": Stage.STARTED, "stage_on": "2022-13-45"}, "请输入有效日期"),
        ("stage", {"stage": Stage.STARTED, "stage_on": TOMORROW}, "生效日期不能晚于今天"),
        ("stage", {"stage": Stage.STARTED, "stage_on": ""}, "请填写新状态的生效日期"),
        ("stage", {"stage": "flying", "stage_on": "2022-05-01"}, "请从列表中选择"),
        ("commissioner", {"commissioner": "county"}, "请从列表中选择"),
        ("responsible_leader", {"responsible_leader": "坏\x00字"}, ""),
    ],
)
def test_a_bad_value_is_said_beside_it_and_nothing_changed(client, world, field, value, message):
    many(world, 2)
    client.force_login(world["manager"])
    if value.get("commissioner") == "county":  # an account that is not a commissioner
        value = {"commissioner": str(world["county"].pk)}
    before = dict(Project.objects.values_list("pk", "version")), ChangeLog.objects.count()
    response = confirm(client, field=field, value=value, query=f"region={world['a'].pk}")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="bulk-value"' in body and 'class="errorlist"' in body
    assert message in body
    # Posting the same straight to "apply" (a hand-made request) changes nothing either.
    data = [*hidden_inputs(response), ("fingerprint", "x")]
    client.post(APPLY, _multi(data))
    assert (dict(Project.objects.values_list("pk", "version")), ChangeLog.objects.count()) == before


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"scope": "all", "field": "name"}, "请从列表中选择"),
        ({"scope": "selected", "field": "responsible_unit", "ids": ["abc"]}, "所选的行无效"),
        ({"scope": "selected", "field": "responsible_unit", "ids": ["-3"]}, "所选的行无效"),
        (
            {"scope": "selected", "field": "responsible_unit", "ids": ["99999999"]},
            "不存在或您无权查看",
        ),
        ({"scope": "selected", "field": "responsible_unit"}, "请勾选至少一行"),
        ({"scope": "everything", "field": "responsible_unit"}, "请从列表中选择"),
        ({"scope": "all", "field": "responsible_unit", "query": "signed_year=abc"}, "筛选条件无效"),
        ({"scope": "all", "field": "responsible_unit", "query": "region=999999"}, "筛选条件无效"),
    ],
)
@pytest.mark.parametrize("url", [BULK, APPLY])
def test_a_bad_set_or_field_is_said_and_nothing_changed(client, world, post, message, url):
    many(world, 2)
    client.force_login(world["manager"])
    before = dict(Project.objects.values_list("pk", "version")), ChangeLog.objects.count()
    post = {**post, "responsible_unit": NEW_UNIT, "fingerprint": "x"}
    response = client.post(url, post)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="bulk-problem"' in body and message in body
    assert (dict(Project.objects.values_list("pk", "version")), ChangeLog.objects.count()) == before


def test_more_rows_than_the_cap_are_refused(client, world, settings):
    settings.TRACKER = {**settings.TRACKER, "BULK_MAX_ROWS": 3}
    many(world, 4)
    client.force_login(world["manager"])
    response = client.post(
        BULK, {"scope": "all", "query": f"region={world['a'].pk}", "field": "responsible_unit"}
    )
    body = response.content.decode()
    assert 'id="bulk-problem"' in body and "4" in body and "最多" in body
    assert set(units().values()) == {OLD_UNIT}


def test_the_list_ticks_only_rows_the_user_may_edit(client, world):
    mine = many(world, 2, prefix="M")
    theirs = many(world, 2, region="b", prefix="T")
    client.force_login(world["county"])
    body = client.get(LIST, {"region": ""}).content.decode()
    boxes = set(re.findall(r'name="ids" value="(\d+)" form="bulk-form"', body))
    assert boxes == {str(p.pk) for p in mine}
    assert all(str(p.pk) not in boxes for p in theirs)
    assert "全部 4 个符合筛选条件的项目" in body

    chain_office = factories.user(Role.CHAIN_OFFICE, chain=world["chain"])
    client.force_login(chain_office)
    body = client.get(LIST).content.decode()
    assert 'id="bulk-form"' not in body and 'name="ids"' not in body


def test_the_boxes_cost_no_query_per_row(client, world):
    """County staff see the whole city and get a box only on their region's rows, checked
    in memory: the list costs the same at 5 and at 50 rows of each region."""
    client.force_login(world["county"])
    params = {"region": "", "per_page": 200}

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(LIST, params).content.decode()
        return len(ctx.captured_queries), body.count('form="bulk-form"')

    many(world, 5, prefix="S")
    many(world, 5, region="b", prefix="U")
    client.get(LIST, params)  # warm the session and the content types
    small = queries()
    many(world, 45, prefix="M")
    many(world, 45, region="b", prefix="V")
    large = queries()
    assert small[0] == large[0]
    # a box on each row of region A, none on region B's
    assert (small[1], large[1]) == (5, 50)


def test_a_get_goes_back_to_the_list(client, world):
    client.force_login(world["manager"])
    for url in (BULK, APPLY):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == LIST


def test_a_user_who_may_edit_nothing_is_refused(client, world):
    many(world, 1)
    client.force_login(factories.user(Role.CHAIN_OFFICE, chain=world["chain"]))
    for url in (BULK, APPLY):
        response = client.post(url, {"scope": "all", "field": "responsible_unit"})
        assert response.status_code == 403
    assert set(units().values()) == {OLD_UNIT}


# --- the service beneath each row ---------------------------------------------------------


def test_each_row_costs_a_few_queries_and_paired_constraints_still_hold(world):
    """update_project asks only the constraints that read an edited field (it asked all
    sixteen, 54 queries a row); one pairing the edited field with an untouched one holds."""
    project = many(world, 1)[0]
    with CaptureQueriesContext(connection) as ctx:
        update_project(
            project_id=project.pk,
            data={"responsible_unit": NEW_UNIT},
            expected_version=project.version,
            by=world["manager"],
        )
    assert len(ctx.captured_queries) <= 8, [q["sql"] for q in ctx.captured_queries]
    project.refresh_from_db()
    with pytest.raises(ValidationError) as refused:  # before the (untouched) signing date
        update_project(
            project_id=project.pk,
            data={"actual_start_on": project.signed_on - datetime.timedelta(days=1)},
            expected_version=project.version,
            by=world["manager"],
        )
    assert "开工日期不能早于签约日期。" in refused.value.messages
    with pytest.raises(ValidationError):  # a constraint on a money field
        update_project(
            project_id=project.pk,
            data={"annual_planned_investment": Decimal("-1")},
            expected_version=project.version,
            by=world["manager"],
        )
    assert Project.objects.get(pk=project.pk).version == project.version


@pytest.mark.parametrize(
    "query",
    [
        "light=green&q=批量项目B&stage=signed",
        "amount_min=500&amount_max=2000&billion=false&signed_after=2022-01-01",
        "light=red&sort=-light",
        "capital_source=domestic&sort=-signed_amount",
    ],
)
def test_every_kind_of_filter_is_re_run_locked_to_the_lists_own_set(client, world, query):
    """The set read under lock when applying is the list's own filtered set (the light,
    the search, sums and choices; FOR UPDATE on PostgreSQL)."""
    many(world, 4)
    many(world, 2, region="b", prefix="B")
    client.force_login(world["manager"])
    listed = client.get(f"{LIST}?{query}")
    expected = listed.context["table"].paginator.count
    with transaction.atomic():
        try:
            found = bulk.resolve_set(by=world["manager"], query=query, lock=True)
        except ValidationError as error:
            assert expected == 0 and "没有选中任何项目" in " ".join(error.messages)
            return
    assert found.count == expected
    assert found.count == (2 if "q=" in query else 6)
