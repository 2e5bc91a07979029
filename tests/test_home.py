"""Home page: projects that need attention, this week's dispatch status, per role."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories as f
from tracker.choices import Role, Stage
from tracker.dispatching import current_week, shift_week

D = datetime.date


@pytest.fixture
def en(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def listed(response):
    return {
        item["project"].pk: [str(r) for r in item["reasons"]] for item in response.context["items"]
    }


@pytest.fixture
def world():
    """Two regions; in region A one project of each kind of trouble."""
    a, b = f.region(name="袁州区"), f.region(name="樟树市")
    chain = f.chain()
    year, week = current_week()
    last_year, last_week = shift_week(year, week, -1)
    # reported this week, on time, no light: fine
    fine = f.project(region=a, chain=chain, signed_on=D(2022, 1, 1))
    f.dispatch(fine, iso_year=year, iso_week=week)
    # reported this week but late
    late = f.project(region=a, chain=chain, signed_on=D(2022, 1, 1))
    f.dispatch(late, iso_year=year, iso_week=week, is_late=True)
    # not reported this week (reported last week on time)
    missing = f.project(region=a, chain=chain, signed_on=D(2022, 1, 1))
    f.dispatch(missing, iso_year=last_year, iso_week=last_week)
    # start 120 days late, reported this week
    red = f.project(
        region=a,
        chain=chain,
        signed_on=D(2022, 1, 1),
        planned_start_on=timezone.localdate() - datetime.timedelta(120),
    )
    f.dispatch(red, iso_year=year, iso_week=week)
    # stalled, reported
    stalled = f.project(
        region=a, chain=chain, signed_on=D(2022, 1, 1), history=[(Stage.STALLED, D(2022, 5, 1))]
    )
    f.dispatch(stalled, iso_year=year, iso_week=week)
    # in production long ago, its last report (years ago) late: not listed any more
    old_late = f.project(
        region=a,
        chain=chain,
        history=[(Stage.STARTED, D(2022, 4, 1)), (Stage.PRODUCTION, D(2022, 9, 1))],
    )
    f.dispatch(old_late, iso_year=2022, iso_week=30, is_late=True)
    # terminated: never listed
    gone = f.project(region=a, chain=chain, history=[(Stage.TERMINATED, D(2022, 5, 1))])
    # region B, not reported
    other = f.project(region=b, signed_on=D(2022, 1, 1))
    return {
        "a": a,
        "b": b,
        "chain": chain,
        "fine": fine,
        "late": late,
        "missing": missing,
        "red": red,
        "stalled": stalled,
        "gone": gone,
        "other": other,
    }


@pytest.mark.django_db
def test_county_staff_see_their_regions_projects_needing_attention(en, world):
    user = f.user(Role.COUNTY, region=world["a"])
    en.force_login(user)
    response = en.get(reverse("tracker:home"))
    assert response.status_code == 200
    items = listed(response)
    assert set(items) == {world[k].pk for k in ("late", "missing", "red", "stalled")}
    assert items[world["missing"].pk] == ["No report this week"]
    assert (
        items[world["late"].pk][0].startswith("Last report (")
        and "late" in items[world["late"].pk][0]
    )
    assert items[world["red"].pk] == ["Construction start 120 days behind plan"]
    assert items[world["stalled"].pk] == ["Project stalled"]
    # worst first
    assert [i["project"].light for i in response.context["items"]][:2] == ["red", "red"]
    assert response.context["status"] == {"total": 5, "filed": 4, "late": 1}
    html = response.content.decode()
    assert "4 of 5 projects reported" in html
    assert reverse("tracker:dispatch") in html
    assert response.context["regions"] == []  # no city-wide table


@pytest.mark.django_db
def test_commissioner_sees_only_assigned_projects(en, world):
    commissioner = f.user(Role.COMMISSIONER)
    world["missing"].commissioner = commissioner
    world["missing"].save()
    en.force_login(commissioner)
    response = en.get(reverse("tracker:home"))
    assert set(listed(response)) == {world["missing"].pk}
    assert response.context["status"] == {"total": 1, "filed": 0, "late": 0}


@pytest.mark.django_db
def test_chain_office_sees_its_chain_read_only(en, world):
    office = f.user(Role.CHAIN_OFFICE, chain=world["chain"])
    en.force_login(office)
    response = en.get(reverse("tracker:home"))
    assert world["other"].pk not in listed(response)
    assert set(listed(response)) == {world[k].pk for k in ("late", "missing", "red", "stalled")}
    html = response.content.decode()
    assert "read-only" in html
    assert 'id="go-dispatch"' not in html


@pytest.mark.django_db
def test_manager_sees_city_wide_counts(en, world):
    manager = f.user(Role.MANAGER)
    en.force_login(manager)
    response = en.get(reverse("tracker:home"))
    rows = {r["region"].pk: r for r in response.context["regions"]}
    a, b = rows[world["a"].pk], rows[world["b"].pk]
    assert (a["total"], a["filed"], a["late"], a["red"], a["yellow"]) == (5, 4, 1, 2, 0)
    assert (b["total"], b["filed"], b["late"], b["red"]) == (1, 0, 0, 0)
    assert response.context["city_total"]["total"] == 6
    assert world["other"].pk in listed(response)
    assert response.context["status"] == {"total": 6, "filed": 4, "late": 1}


@pytest.mark.django_db
def test_nothing_to_do_says_so(en):
    region = f.region()
    p = f.project(region=region, signed_on=D(2022, 1, 1))
    year, week = current_week()
    f.dispatch(p, iso_year=year, iso_week=week)
    en.force_login(f.user(Role.COUNTY, region=region))
    html = en.get(reverse("tracker:home")).content.decode()
    assert 'id="attention-none"' in html


@pytest.mark.django_db
def test_escapes_project_names(en):
    region = f.region()
    f.project(region=region, signed_on=D(2022, 1, 1), name="<script>alert(1)</script>")
    en.force_login(f.user(Role.COUNTY, region=region))
    html = en.get(reverse("tracker:home")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def _projects(region, n):
    year, week = current_week()
    enterprise = f.enterprise(region=region)
    chain = f.chain()
    for i in range(n):
        p = f.project(
            region=region,
            enterprise=enterprise,
            chain=chain,
            signed_on=D(2022, 1, 1),
            planned_start_on=D(2022, 2, 1) if i % 3 == 0 else None,
            annual_planned_investment=Decimal(1000),
        )
        if i % 2:
            f.dispatch(p, iso_year=year, iso_week=week, is_late=bool(i % 4 == 1))


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.COUNTY, Role.MANAGER])
def test_home_runs_a_fixed_number_of_queries(client, role):
    counts = {}
    for n in (5, 80):
        region = f.region()
        _projects(region, n)
        user = f.user(role, region=region) if role == Role.COUNTY else f.user(role)
        client.force_login(user)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("tracker:home"))
        assert response.status_code == 200
        counts[n] = len(ctx.captured_queries)
    print(f"home query count for {role}:", counts)
    assert response.context["more"] > 0 or role == Role.COUNTY
    assert counts[5] == counts[80]


@pytest.mark.django_db
def test_overdue_problems_and_items_are_flagged_to_those_who_see_them(en):
    from tracker.models import Inspection, Problem, RectificationItem

    today = timezone.localdate()
    chain_a, chain_b = f.chain(), f.chain()
    region = f.region()
    mine = f.project(region=region, chain=chain_a)
    other = f.project(chain=chain_b)
    raiser = f.user(Role.MANAGER)
    for project, days in ((mine, 3), (other, 5)):
        Problem.objects.create(
            chain=project.chain,
            project=project,
            region=project.region,
            title="逾期问题",
            status="assigned",
            assigned_unit="某局",
            raised_on=today - datetime.timedelta(days=30),
            deadline=today - datetime.timedelta(days=days),
            raised_by=raiser,
        )
    Problem.objects.create(  # due today: not overdue yet
        chain=chain_a,
        title="今天到期",
        status="assigned",
        assigned_unit="某局",
        raised_on=today - datetime.timedelta(days=10),
        deadline=today,
        raised_by=raiser,
    )
    inspection = Inspection.objects.create(
        year=today.year,
        quarter=(today.month - 1) // 3 + 1,
        region=region,
        title="督查",
        inspected_on=today,
    )
    RectificationItem.objects.create(
        inspection=inspection,
        description="整改",
        owner_unit="县工信局",
        deadline=today - datetime.timedelta(days=1),
    )

    chain_office = f.user(Role.CHAIN_OFFICE, chain=chain_a)
    en.force_login(chain_office)
    page = en.get(reverse("tracker:home"))
    assert page.context["overdue"] == {"problems": 1, "items": 0}
    assert "1 chain problem past its deadline" in page.content.decode()

    en.force_login(raiser)
    page = en.get(reverse("tracker:home"))
    assert page.context["overdue"] == {"problems": 2, "items": 1}
    assert 'href="/problems/?overdue=true"' in page.content.decode()

    en.force_login(f.user(Role.COUNTY))  # another region: nothing of theirs is overdue
    page = en.get(reverse("tracker:home"))
    assert page.context["overdue"] == {"problems": 0, "items": 0}
    assert 'id="overdue"' not in page.content.decode()
