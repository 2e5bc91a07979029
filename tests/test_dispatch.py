"""Weekly dispatch (周调度): weeks, deadline, scope, all-or-nothing saves, double submits."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from tests import factories as f
from tracker.choices import ChangeAction, Role, Stage
from tracker.dispatching import (
    DispatchError,
    WeekError,
    current_week,
    deadline,
    file_weekly_dispatch,
    parse_week,
    row_errors,
    shift_week,
    week_label,
)
from tracker.models import ChangeLog, Project, StageChange, WeeklyDispatch
from tracker.periods import week_text

D = datetime.date
TZ = timezone.get_default_timezone()


@pytest.fixture(autouse=True)
def _services_speak_english():
    """Messages raised by the services outside a request are in the English source text,
    whatever language an earlier test's request left active in this thread (under
    pytest-xdist the order of tests differs). Requests set their own language."""
    with translation.override("en"):
        yield


@pytest.fixture
def en(client):
    """Messages in the English source text, whatever the translation catalogue holds."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def this_week():
    return week_label(*current_week())


def week_url(week=None):
    return reverse("tracker:dispatch_week", args=[week or this_week()])


def at(year, month, day, hour=12, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=TZ)


def sheet_data(response, changes=None):
    """The POST data of the sheet as the browser would send it, with ``changes`` applied.

    ``changes``: project pk → {field: value}.
    """
    changes = changes or {}
    formset = response.context["formset"]
    data = {
        f"{formset.prefix}-{k}": v
        for k, v in formset.management_form.initial.items()
        if v is not None
    }
    for form in formset.forms:
        values = {
            "project": form.project.pk,
            "version": form.initial["version"],
            "report_version": form.initial["report_version"],
            "stage": "",
            "completed_investment": form.initial["completed_investment"],
            "progress": form.initial["progress"],
            "problems": form.initial["problems"],
        }
        for name in ("completed_investment", "progress", "problems"):
            data[form.add_initial_prefix(name)] = values[name]
        values.update(changes.get(form.project.pk, {}))
        for name, value in values.items():
            if name == "confirm":
                if value:
                    data[form.add_prefix(name)] = "on"
                continue
            data[form.add_prefix(name)] = "" if value is None else value
    return data


@pytest.fixture
def county():
    region = f.region(name="袁州区", code="yuanzhou")
    user = f.user(Role.COUNTY, region=region, username="yuanzhou", display_name="陈丽华")
    projects = [
        f.project(region=region, signed_on=D(2022, 1, 1), signed_amount=Decimal(10000))
        for _ in range(2)
    ]
    return user, projects


# --- weeks -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["2023-W01", "2020-W53", "2026-W48"])
def test_parse_week_accepts_iso_weeks(text):
    year, week = parse_week(text)
    assert week_label(year, week) == text


@pytest.mark.parametrize(
    "text", ["2022-W60", "2021-W53", "2022-W00", "garbage", "2023-W7", "23-W07", "", "1999-W10"]
)
def test_parse_week_refuses_what_is_not_a_week(text):
    with pytest.raises(WeekError):
        parse_week(text)


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["2022-W60", "2021-W53", "garbage", "2022-W1x"])
def test_invalid_week_page_is_404_with_a_message(en, county, text):
    en.force_login(county[0])
    response = en.get(week_url(text))
    assert response.status_code == 404
    assert "is not a week" in response.content.decode()


@pytest.mark.django_db
def test_future_week_cannot_be_filed(en, county):
    user, (p, _) = county
    en.force_login(user)
    future = week_label(*shift_week(*current_week(), 1))
    response = en.get(week_url(future))
    assert response.status_code == 404
    assert "has not begun yet" in response.content.decode()
    response = en.post(week_url(future), {"row-TOTAL_FORMS": "0"})
    assert response.status_code == 404
    with pytest.raises(DispatchError, match="has not begun"):
        file_weekly_dispatch(
            iso_year=int(future[:4]),
            iso_week=int(future[-2:]),
            rows=[{"project": p.pk, "completed_investment": Decimal(1)}],
            by=user,
        )
    assert not WeeklyDispatch.objects.exists()


def test_deadline_is_friday_1800_shanghai():
    assert deadline(2023, 10) == at(2023, 3, 10, 18, 0)
    assert str(deadline(2023, 10).tzinfo) == "Asia/Shanghai"


# --- the service: lateness, all-or-nothing, scope ---------------------------------------------
def row(project, **kw):
    kw.setdefault("completed_investment", Decimal(100))
    return {"project": project.pk, "stage": "", "progress": "", "problems": "", **kw}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "late"),
    [
        (at(2023, 3, 10, 17, 59), False),
        (at(2023, 3, 10, 18, 0), False),  # at the deadline is on time
        (at(2023, 3, 10, 18, 1), True),
        (at(2023, 3, 12, 9, 0), True),  # Sunday
        (at(2023, 3, 14, 9, 0), True),  # the next week, still open for county staff
    ],
)
def test_late_flag_around_the_deadline(county, now, late):
    user, (p, _) = county
    (report,) = file_weekly_dispatch(
        iso_year=2023, iso_week=10, rows=[row(p)], by=user, now=now
    ).reports
    report.refresh_from_db()
    assert report.is_late is late
    assert report.filed_at == now


@pytest.mark.django_db
def test_a_correction_keeps_first_filing_time_and_lateness(county):
    user, (p, _) = county
    first = at(2023, 3, 9)
    file_weekly_dispatch(iso_year=2023, iso_week=10, rows=[row(p)], by=user, now=first)
    (returned,) = file_weekly_dispatch(
        iso_year=2023,
        iso_week=10,
        rows=[row(p, completed_investment=Decimal(150))],
        by=user,
        now=at(2023, 3, 11),
    ).reports
    assert (returned.filed_at, returned.is_late) == (first, False)
    report = WeeklyDispatch.objects.get()
    assert (report.completed_investment, report.is_late, report.filed_at) == (
        Decimal(150),
        False,
        first,
    )


@pytest.mark.django_db
def test_county_staff_file_only_this_and_last_week(county):
    user, (p, _) = county
    now = at(2023, 3, 22)  # Wednesday of 2023-W12
    with pytest.raises(DispatchError, match="closed"):
        file_weekly_dispatch(iso_year=2023, iso_week=10, rows=[row(p)], by=user, now=now)
    file_weekly_dispatch(iso_year=2023, iso_week=11, rows=[row(p)], by=user, now=now)
    manager = f.user(Role.MANAGER)
    file_weekly_dispatch(iso_year=2022, iso_week=10, rows=[row(p)], by=manager, now=now)
    assert WeeklyDispatch.objects.count() == 2


@pytest.mark.django_db
def test_the_filing_window_for_staff_is_a_setting(county, settings):
    user, (p, _) = county
    now = at(2023, 3, 22)  # Wednesday of 2023-W12
    settings.TRACKER = {**settings.TRACKER, "DISPATCH_OPEN_WEEKS_BACK": 2}
    file_weekly_dispatch(iso_year=2023, iso_week=10, rows=[row(p)], by=user, now=now)
    with pytest.raises(DispatchError):
        file_weekly_dispatch(iso_year=2023, iso_week=9, rows=[row(p)], by=user, now=now)
    assert WeeklyDispatch.objects.filter(iso_year=2023, iso_week=10).count() == 1


@pytest.mark.django_db
def test_one_invalid_row_saves_nothing(county):
    user, (p1, p2) = county
    with pytest.raises(DispatchError) as info:
        file_weekly_dispatch(
            iso_year=2023,
            iso_week=10,
            rows=[row(p1), row(p2, completed_investment=Decimal(-5))],
            by=user,
            now=at(2023, 3, 9),
        )
    assert list(info.value.rows) == [p2.pk]
    assert "cannot be negative" in str(info.value.rows[p2.pk]["completed_investment"][0])
    assert not WeeklyDispatch.objects.exists()
    assert not ChangeLog.objects.exists()
    p1.refresh_from_db()
    assert p1.completed_investment == 0


@pytest.mark.django_db
def test_a_refused_stage_change_rolls_back_the_other_rows(county):
    user, (p1, p2) = county
    # p2's last stage change is later than the report date: advance_to refuses it.
    StageChange.objects.create(
        project=p2, from_stage=Stage.SIGNED, to_stage=Stage.REGISTERED, effective_on=D(2023, 4, 1)
    )
    Project.objects.filter(pk=p2.pk).update(stage=Stage.REGISTERED)
    with pytest.raises(DispatchError) as info:
        file_weekly_dispatch(
            iso_year=2023,
            iso_week=10,
            rows=[row(p1, stage=Stage.REGISTERED), row(p2, stage=Stage.LAND)],
            by=user,
            now=at(2023, 3, 9),
        )
    assert "stage" in info.value.rows[p2.pk]
    p1.refresh_from_db()
    assert p1.stage == Stage.SIGNED
    assert not WeeklyDispatch.objects.exists()
    assert StageChange.objects.filter(project=p1).count() == 1


@pytest.mark.django_db
def test_project_of_another_region_is_refused_and_unchanged(county):
    _user, (p, _) = county
    other = f.user(Role.COUNTY)  # a county user of another region
    with pytest.raises(DispatchError, match="not in your scope"):
        file_weekly_dispatch(
            iso_year=2023, iso_week=10, rows=[row(p)], by=other, now=at(2023, 3, 9)
        )
    assert not WeeklyDispatch.objects.exists()


@pytest.mark.django_db
def test_chain_office_cannot_file(county):
    _user, (p, _) = county
    office = f.user(Role.CHAIN_OFFICE, chain=p.chain)
    with pytest.raises(DispatchError, match="cannot file"):
        file_weekly_dispatch(
            iso_year=2023, iso_week=10, rows=[row(p)], by=office, now=at(2023, 3, 9)
        )
    assert not WeeklyDispatch.objects.exists()


@pytest.mark.django_db
def test_commissioner_files_only_assigned_projects(county):
    _user, (p1, p2) = county
    commissioner = f.user(Role.COMMISSIONER)
    Project.objects.filter(pk=p1.pk).update(commissioner=commissioner)
    file_weekly_dispatch(
        iso_year=2023, iso_week=10, rows=[row(p1)], by=commissioner, now=at(2023, 3, 9)
    )
    with pytest.raises(DispatchError, match="not in your scope"):
        file_weekly_dispatch(
            iso_year=2023, iso_week=10, rows=[row(p2)], by=commissioner, now=at(2023, 3, 9)
        )
    assert list(WeeklyDispatch.objects.values_list("project_id", flat=True)) == [p1.pk]


@pytest.mark.django_db
def test_filing_updates_project_and_records_history(county):
    user, (p, _) = county
    now = at(2023, 3, 9)
    (report,) = file_weekly_dispatch(
        iso_year=2023,
        iso_week=10,
        rows=[row(p, completed_investment=Decimal("1234.50"), stage=Stage.REGISTERED)],
        by=user,
        now=now,
    ).reports
    p.refresh_from_db()
    assert p.completed_investment == Decimal("1234.50")
    assert p.stage == Stage.REGISTERED
    assert report.stage == Stage.REGISTERED
    assert StageChange.objects.filter(project=p, to_stage=Stage.REGISTERED).get().effective_on == (
        D(2023, 3, 9)
    )
    # The first filing records each field's value, not a bare "create".
    created = ChangeLog.objects.filter(action=ChangeAction.CREATE, object_id=report.pk)
    assert {c.field: (c.old_value, c.new_value) for c in created} == {
        "stage": ("", str(Stage.REGISTERED.label)),
        "completed_investment": ("", "1234.50"),
        "progress": ("", ""),
        "problems": ("", ""),
    }
    assert {(c.changed_by, c.changed_at) for c in created} == {(user, now)}
    invest = ChangeLog.objects.get(
        field="completed_investment", object_id=p.pk, content_type__model="project"
    )
    assert (invest.old_value, invest.new_value, invest.changed_by) == ("0.00", "1234.50", user)
    # A correction records the changed fields of the report.
    file_weekly_dispatch(
        iso_year=2023,
        iso_week=10,
        rows=[row(p, completed_investment=Decimal("1300"), problems="用地指标未落实")],
        by=user,
        now=at(2023, 3, 10),
    )
    fields = set(
        ChangeLog.objects.filter(object_id=report.pk, action=ChangeAction.UPDATE)
        .exclude(field="stage")
        .values_list("field", flat=True)
    )
    assert {"completed_investment", "problems"} <= fields


@pytest.mark.django_db
def test_an_older_week_does_not_overwrite_the_projects_current_figure(county):
    user, (p, _) = county
    manager = f.user(Role.MANAGER)
    now = at(2023, 3, 22)
    file_weekly_dispatch(
        iso_year=2023,
        iso_week=12,
        rows=[row(p, completed_investment=Decimal(500))],
        by=user,
        now=now,
    )
    file_weekly_dispatch(
        iso_year=2023,
        iso_week=5,
        rows=[row(p, completed_investment=Decimal(100))],
        by=manager,
        now=now,
    )
    p.refresh_from_db()
    assert p.completed_investment == Decimal(500)


@pytest.mark.django_db
def test_decreasing_investment_refused_for_staff_allowed_for_manager(county):
    user, (p, _) = county
    now = at(2023, 3, 15)
    file_weekly_dispatch(
        iso_year=2023,
        iso_week=10,
        rows=[row(p, completed_investment=Decimal(500))],
        by=user,
        now=now,
    )
    with pytest.raises(DispatchError) as info:
        file_weekly_dispatch(
            iso_year=2023,
            iso_week=11,
            rows=[row(p, completed_investment=Decimal(400))],
            by=user,
            now=now,
        )
    assert "cannot go down" in str(info.value.rows[p.pk]["completed_investment"][0])
    manager = f.user(Role.MANAGER)
    # A manager correcting a mistake needs a reason ...
    with translation.override("en"), pytest.raises(DispatchError) as info:
        file_weekly_dispatch(
            iso_year=2023,
            iso_week=11,
            rows=[row(p, completed_investment=Decimal(400))],
            by=manager,
            now=now,
        )
    assert "give the reason" in " ".join(str(m) for m in info.value.rows[p.pk]["reason"])
    p.refresh_from_db()
    assert p.completed_investment == Decimal(500)
    # ... which the history keeps, on the report and on the project.
    (report,) = file_weekly_dispatch(
        iso_year=2023,
        iso_week=11,
        rows=[row(p, completed_investment=Decimal(400), reason="第10周误报，应为400")],
        by=manager,
        now=now,
    ).reports
    p.refresh_from_db()
    assert p.completed_investment == Decimal(400)
    lowered = ChangeLog.objects.get(
        content_type__model="project", object_id=p.pk, old_value="500.00"
    )
    assert (lowered.new_value, lowered.note, lowered.changed_by) == (
        "400.00",
        "第10周误报，应为400",
        manager,
    )
    first = ChangeLog.objects.get(
        content_type__model="weeklydispatch", object_id=report.pk, field="completed_investment"
    )
    assert (first.new_value, first.note) == ("400.00", "第10周误报，应为400")


@pytest.mark.django_db
def test_double_submission_leaves_one_report_with_latest_values(county):
    user, (p, _) = county
    for amount in (100, 200, 300):
        file_weekly_dispatch(
            iso_year=2023,
            iso_week=10,
            rows=[row(p, completed_investment=Decimal(amount))],
            by=user,
            now=at(2023, 3, 9),
        )
    report = WeeklyDispatch.objects.get()
    assert report.completed_investment == Decimal(300)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_on_postgres(county):
    """Two concurrent filings without versions (a script, an import) leave one report per
    project-week, holding one filing's values for every row (the same figure: a lower one
    would now be refused as going below the other's)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    user, (p1, p2) = county
    barrier = threading.Barrier(2)
    errors = []

    def submit(text):
        try:
            barrier.wait(timeout=10)
            file_weekly_dispatch(
                iso_year=2023,
                iso_week=10,
                rows=[
                    row(p1, completed_investment=Decimal(111), progress=text),
                    row(p2, completed_investment=Decimal(111), progress=text),
                ],
                by=user,
                now=at(2023, 3, 9),
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(a,)) for a in ("第一次", "第二次")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    reports = WeeklyDispatch.objects.order_by("project_id")
    assert reports.count() == 2
    texts = {r.progress for r in reports}
    assert len(texts) == 1 and texts <= {"第一次", "第二次"}
    assert {r.version for r in reports} == {2}  # the second filing bumped the first's
    created = ChangeLog.objects.filter(action=ChangeAction.CREATE)
    assert created.values("object_id").distinct().count() == 2


# --- the page ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_sheet_prefills_the_current_figures_beside_the_last_report(en, county):
    user, (p1, p2) = county
    # p1's figure was raised on the project form after its last report (8713).
    Project.objects.filter(pk=p1.pk).update(
        completed_investment=Decimal("9034.50"), stage=Stage.REGISTERED
    )
    Project.objects.filter(pk=p2.pk).update(completed_investment=Decimal(77))
    year, week = shift_week(*current_week(), -1)
    f.dispatch(
        p1,
        iso_year=year,
        iso_week=week,
        stage=Stage.SIGNED,
        completed_investment=Decimal(8713),
        problems="缺电",
    )
    en.force_login(user)
    response = en.get(reverse("tracker:dispatch"))
    assert response.status_code == 200
    forms = {form.project.pk: form for form in response.context["formset"].forms}
    assert forms[p1.pk].initial["completed_investment"] == Decimal("9034.50")
    assert forms[p1.pk].initial["problems"] == "缺电"  # the texts start from the report
    assert forms[p2.pk].initial["completed_investment"] == Decimal(77)
    # The stage offered as "unchanged" is the project's current one.
    assert forms[p1.pk].fields["stage"].choices[0][1] == f"unchanged ({Stage.REGISTERED.label})"
    # The last report is shown beside them.
    html = response.content.decode()
    row_html = html[html.index(f'id="row-{p1.pk}"') :][:4000]
    # The week in words (its format: tests/test_formats.py).
    assert week_text(year, week) in row_html and "8713.00" in row_html
    assert 'value="9034.50"' in row_html
    assert {p.pk for p in response.context["missing"]} == {p1.pk, p2.pk}


@pytest.mark.django_db
def test_post_saves_changed_rows_and_missing_list_shrinks(en, county):
    user, (p1, p2) = county
    en.force_login(user)
    response = en.get(week_url())
    data = sheet_data(response, {p1.pk: {"completed_investment": "120.5", "progress": "主体封顶"}})
    response = en.post(week_url(), data, follow=True)
    assert response.status_code == 200
    assert "Saved 1 reports" in response.content.decode()
    report = WeeklyDispatch.objects.get()
    assert (report.project, report.completed_investment, report.progress) == (
        p1,
        Decimal("120.50"),
        "主体封顶",
    )
    assert [p.pk for p in response.context["missing"]] == [p2.pk]
    # "file unchanged" files a row that was left as pre-filled.
    data = sheet_data(response, {p2.pk: {"confirm": True}})
    response = en.post(week_url(), data, follow=True)
    assert response.context["missing"] == []
    assert WeeklyDispatch.objects.count() == 2


@pytest.mark.django_db
def test_same_form_posted_twice_keeps_one_report(en, county):
    user, (p1, _) = county
    en.force_login(user)
    page = en.get(week_url())
    first = sheet_data(page, {p1.pk: {"completed_investment": "100"}})
    second = sheet_data(page, {p1.pk: {"completed_investment": "200"}})  # another tab
    assert en.post(week_url(), first).status_code == 302
    # A double click / the back button asks for what is filed already: not a conflict.
    response = en.post(week_url(), first, follow=True)
    assert "Saved 1 reports" in response.content.decode()
    # The other tab, opened before the first filing, is refused for that row.
    response = en.post(week_url(), second)
    assert response.status_code == 200
    assert "1 rows were not saved" in response.content.decode()
    report = WeeklyDispatch.objects.get()
    assert (report.completed_investment, report.version) == (Decimal(100), 1)


@pytest.mark.django_db
def test_untouched_row_in_a_stale_tab_does_not_overwrite(en, county):
    user, (p1, p2) = county
    en.force_login(user)
    stale = en.get(week_url())
    fresh = en.get(week_url())
    en.post(week_url(), sheet_data(fresh, {p1.pk: {"completed_investment": "300"}}))
    # The stale tab only changes p2; p1 was left as it was shown there.
    en.post(week_url(), sheet_data(stale, {p2.pk: {"completed_investment": "50"}}))
    assert WeeklyDispatch.objects.get(project=p1).completed_investment == Decimal(300)
    assert WeeklyDispatch.objects.get(project=p2).completed_investment == Decimal(50)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"completed_investment": "-1"}, "completed_investment", "cannot be negative"),
        ({"completed_investment": "abc"}, "completed_investment", "Enter a number"),
        ({"completed_investment": "15000.01"}, "completed_investment", "1.5 times the signed"),
        ({"progress": "字" * 10000}, "progress", "at most 2000 characters"),
        ({"problems": "x" * 2001}, "problems", "at most 2000 characters"),
        ({"stage": Stage.STALLED}, "stage", "Select a valid choice"),
        ({"stage": "bogus"}, "stage", "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_beside_the_field_and_nothing_saved(
    en, county, changes, field, message
):
    user, (p1, p2) = county
    en.force_login(user)
    page = en.get(week_url())
    data = sheet_data(page, {p1.pk: {"completed_investment": "10"}, p2.pk: changes})
    response = en.post(week_url(), data)
    assert response.status_code == 200
    form = next(f for f in response.context["formset"].forms if f.project.pk == p2.pk)
    assert message.lower() in " ".join(form.errors[field]).lower()
    html = response.content.decode()
    assert "Nothing was saved" in html
    # typed values are kept
    if field == "completed_investment":
        assert f'value="{changes[field]}"' in html
    assert not WeeklyDispatch.objects.exists()
    p1.refresh_from_db()
    assert p1.completed_investment == 0


@pytest.mark.django_db
def test_script_tag_is_stored_as_text_and_escaped(en, county):
    user, (p1, _) = county
    en.force_login(user)
    script = "<script>alert(1)</script>"
    data = sheet_data(en.get(week_url()), {p1.pk: {"problems": script}})
    en.post(week_url(), data)
    assert WeeklyDispatch.objects.get().problems == script
    html = en.get(week_url()).content.decode()
    assert script not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


NOT_ON_SHEET = "rows of this page are for projects you cannot file this week"


@pytest.mark.django_db
def test_another_regions_user_cannot_post_a_project_not_theirs(en, county):
    _user, (p1, _) = county
    other_region = f.region()
    other = f.user(Role.COUNTY, region=other_region)
    own = f.project(region=other_region, signed_on=D(2022, 1, 1))
    en.force_login(other)
    page = en.get(week_url())
    assert [form.project.pk for form in page.context["formset"].forms] == [own.pk]
    data = sheet_data(page, {own.pk: {"completed_investment": "9"}})
    data["row-0-project"] = p1.pk  # tampered id
    response = en.post(week_url(), data)
    assert response.status_code == 200  # no row left to show again: the page as it is
    assert "Nothing was saved: 1 " + NOT_ON_SHEET in response.content.decode()
    assert [form.project.pk for form in response.context["formset"].forms] == [own.pk]
    assert not response.context["formset"].is_bound
    # an extra row appended for the foreign project: refused whole, the own row kept as typed
    data = sheet_data(page, {own.pk: {"completed_investment": "9"}})
    data.update({"row-TOTAL_FORMS": "2", "row-1-project": p1.pk, "row-1-completed_investment": "9"})
    response = en.post(week_url(), data)
    assert response.status_code == 200
    assert "Nothing was saved: 1 " + NOT_ON_SHEET in response.content.decode()
    assert [form.project.pk for form in response.context["formset"].forms] == [own.pk]
    assert response.context["formset"].forms[0]["completed_investment"].value() == "9"
    assert f'id="row-{p1.pk}"' not in response.content.decode()
    assert not WeeklyDispatch.objects.exists()
    assert Project.objects.get(pk=p1.pk).completed_investment == 0
    assert Project.objects.get(pk=own.pk).completed_investment == 0


@pytest.mark.django_db
def test_chain_office_gets_a_read_only_403(en, county):
    _user, (p1, _) = county
    office = f.user(Role.CHAIN_OFFICE, chain=p1.chain)
    en.force_login(office)
    response = en.get(reverse("tracker:dispatch"))
    assert response.status_code == 403
    assert "read-only" in response.content.decode()
    response = en.post(week_url(), {"row-TOTAL_FORMS": "1", "row-0-project": p1.pk})
    assert response.status_code == 403
    assert not WeeklyDispatch.objects.exists()


@pytest.mark.django_db
def test_commissioner_sheet_has_only_assigned_projects(en, county):
    _user, (p1, _p2) = county
    commissioner = f.user(Role.COMMISSIONER)
    Project.objects.filter(pk=p1.pk).update(commissioner=commissioner)
    en.force_login(commissioner)
    response = en.get(week_url())
    assert [form.project.pk for form in response.context["formset"].forms] == [p1.pk]


@pytest.mark.django_db
def test_closed_week_is_read_only_for_county_staff(en, county):
    user, (p1, _) = county
    old = week_label(*shift_week(*current_week(), -3))
    en.force_login(user)
    response = en.get(week_url(old))
    assert response.status_code == 200
    html = response.content.decode()
    assert "is closed" in html
    assert 'id="submit-dispatch"' not in html
    response = en.post(week_url(old), sheet_data(response, {p1.pk: {"completed_investment": "1"}}))
    assert response.status_code == 403
    assert not WeeklyDispatch.objects.exists()
    # the previous week stays open
    previous = week_label(*shift_week(*current_week(), -1))
    assert 'id="submit-dispatch"' in en.get(week_url(previous)).content.decode()


@pytest.mark.django_db
def test_terminated_and_producing_projects_are_not_listed(en, county):
    user, (p1, _) = county
    region = p1.region
    f.project(region=region, history=[(Stage.TERMINATED, D(2022, 6, 1))])
    f.project(
        region=region,
        history=[(Stage.STARTED, D(2022, 4, 1)), (Stage.PRODUCTION, D(2022, 9, 1))],
    )
    en.force_login(user)
    response = en.get(week_url())
    assert len(response.context["formset"].forms) == 2
    assert response.context["excluded"] == 2
    assert "no longer dispatch" in response.content.decode()


@pytest.mark.django_db
def test_stage_choices_follow_allowed_transitions(en, county):
    user, (p1, _) = county
    en.force_login(user)
    response = en.get(week_url())
    form = response.context["formset"].forms[0]
    values = [v for v, _label in form.fields["stage"].choices]
    assert values[0] == ""
    assert Stage.STALLED not in values and Stage.TERMINATED not in values
    assert Stage.SIGNED not in values  # already there
    data = sheet_data(response, {p1.pk: {"stage": Stage.STARTED}})
    en.post(week_url(), data)
    p1.refresh_from_db()
    assert p1.stage == Stage.STARTED
    assert p1.actual_start_on == timezone.localdate()
    assert WeeklyDispatch.objects.get(project=p1).stage == Stage.STARTED


@pytest.mark.django_db
def test_manager_chooses_a_region_and_may_file_old_weeks(en, county):
    _user, (p1, p2) = county
    other = f.project(signed_on=D(2022, 1, 1))
    manager = f.user(Role.MANAGER)
    en.force_login(manager)
    response = en.get(reverse("tracker:dispatch") + "?region=" + p1.region.code)
    assert {form.project.pk for form in response.context["formset"].forms} == {p1.pk, p2.pk}
    response = en.get(reverse("tracker:dispatch") + "?region=" + other.region.code)
    assert [form.project.pk for form in response.context["formset"].forms] == [other.pk]
    assert en.get(reverse("tracker:dispatch") + "?region=nowhere").status_code == 404
    old = week_label(*shift_week(*current_week(), -10))
    url = week_url(old) + "?region=" + p1.region.code
    page = en.get(url)
    assert 'id="submit-dispatch"' in page.content.decode()
    response = en.post(url, sheet_data(page, {p1.pk: {"completed_investment": "5"}}))
    assert response.status_code == 302
    assert WeeklyDispatch.objects.get().iso_week == int(old[-2:])


@pytest.mark.django_db
def test_nav_links_to_the_dispatch(en, county):
    en.force_login(county[0])
    html = en.get(reverse("tracker:home")).content.decode()
    assert f'href="{reverse("tracker:dispatch")}"' in html


def statements(ctx):
    """The number of statements, counting a bulk insert once: SQLite splits one into batches
    of 999 parameters (some 90 history rows), PostgreSQL does not."""
    count, previous = 0, None
    for query in ctx.captured_queries:
        sql = query["sql"]
        insert = sql.split(" (", 1)[0] if sql.startswith("INSERT INTO") else None
        if insert is None or insert != previous:
            count += 1
        previous = insert
    return count


def _region_with_projects(n):
    region = f.region()
    user = f.user(Role.COUNTY, region=region)
    chain = f.chain()
    enterprise = f.enterprise(region=region)
    year, week = shift_week(*current_week(), -1)
    for i in range(n):
        history = [(Stage.STALLED, D(2022, 5, 1))] if i % 5 == 0 else None
        p = f.project(
            region=region,
            chain=chain,
            enterprise=enterprise,
            signed_on=D(2022, 1, 1),
            history=history,
        )
        if i % 2:
            f.dispatch(p, iso_year=year, iso_week=week, completed_investment=Decimal(i))
    return user


@pytest.mark.django_db
def test_sheet_runs_a_fixed_number_of_queries(client):
    counts = {}
    for n in (5, 50):
        user = _region_with_projects(n)
        client.force_login(user)
        ContentType.objects.clear_cache()
        with CaptureQueriesContext(connection) as get_ctx:
            page = client.get(week_url())
        assert len(page.context["formset"].forms) == n
        data = sheet_data(
            page,
            {
                form.project.pk: {"completed_investment": "1000", "progress": "进展"}
                for form in page.context["formset"].forms
            },
        )
        ContentType.objects.clear_cache()
        with CaptureQueriesContext(connection) as post_ctx:
            response = client.post(week_url(), data)
        assert response.status_code == 302, response.context["formset"].errors
        assert WeeklyDispatch.objects.filter(project__region=user.region).count() >= n
        counts[n] = (statements(get_ctx), statements(post_ctx))
    print("dispatch query counts (GET, POST) for 5 and 50 rows:", counts)
    assert counts[5] == counts[50]


# --- a past week's report keeps the stage of its week --------------------------------------------
@pytest.mark.django_db
def test_correcting_a_past_week_keeps_the_stage_of_that_week(county):
    """Review finding: a progress-only correction stamped today's stage (投产) on a 2022-W10
    report whose week was 开工 per the stage history."""
    _user, (p, _) = county
    Project.objects.filter(pk=p.pk).delete()
    p = f.project(
        region=_user.region,
        signed_on=D(2022, 1, 1),
        history=[(Stage.STARTED, D(2022, 3, 1)), (Stage.PRODUCTION, D(2022, 9, 1))],
    )
    report = f.dispatch(p, iso_year=2022, iso_week=10, stage=Stage.STARTED, progress="主体施工")
    manager = f.user(Role.MANAGER)
    file_weekly_dispatch(
        iso_year=2022,
        iso_week=10,
        rows=[row(p, completed_investment=Decimal(0), progress="主体封顶")],
        by=manager,
        now=at(2023, 3, 22),
    )
    report.refresh_from_db()
    assert (report.stage, report.progress) == (Stage.STARTED, "主体封顶")
    assert not ChangeLog.objects.filter(object_id=report.pk, field="stage").exists()
    # A first report of a past week records that week's stage too, not today's.
    (first,) = file_weekly_dispatch(
        iso_year=2022,
        iso_week=5,  # before 开工 (2022-03-01)
        rows=[row(p, completed_investment=Decimal(0))],
        by=manager,
        now=at(2023, 3, 22),
    ).reports
    assert WeeklyDispatch.objects.get(pk=first.pk).stage == Stage.SIGNED


@pytest.mark.django_db
def test_a_stage_change_filed_with_a_past_week_is_that_reports_stage(county):
    _user, (p, _) = county
    manager = f.user(Role.MANAGER)
    f.dispatch(p, iso_year=2023, iso_week=2, stage=Stage.SIGNED)
    (report,) = file_weekly_dispatch(
        iso_year=2023,
        iso_week=2,
        rows=[row(p, stage=Stage.REGISTERED)],
        by=manager,
        now=at(2023, 3, 22),
    ).reports
    p.refresh_from_db()
    assert p.stage == Stage.REGISTERED
    assert StageChange.objects.get(project=p, to_stage=Stage.REGISTERED).effective_on == D(
        2023, 1, 15
    )  # the Sunday of 2023-W02
    assert WeeklyDispatch.objects.get(pk=report.pk).stage == Stage.REGISTERED


# --- cumulative both ways ------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_earlier_week_cannot_exceed_a_later_report_except_for_a_manager(county):
    user, (p, _) = county
    now = at(2023, 3, 15)  # Wednesday of 2023-W11: W10 is still open for county staff
    file_weekly_dispatch(
        iso_year=2023,
        iso_week=11,
        rows=[row(p, completed_investment=Decimal(500))],
        by=user,
        now=now,
    )
    with translation.override("en"), pytest.raises(DispatchError) as info:
        file_weekly_dispatch(
            iso_year=2023,
            iso_week=10,
            rows=[row(p, completed_investment=Decimal(1000))],
            by=user,
            now=now,
        )
    message = str(info.value.rows[p.pk]["completed_investment"][0])
    assert "cannot go down" in message and "500" in message
    assert not WeeklyDispatch.objects.filter(iso_week=10).exists()
    # Equal to the later figure, or below it, is fine.
    file_weekly_dispatch(
        iso_year=2023,
        iso_week=10,
        rows=[row(p, completed_investment=Decimal(500))],
        by=user,
        now=now,
    )
    # A manager may correct (the later week's figure was wrong, say), with a reason.
    manager = f.user(Role.MANAGER)
    with pytest.raises(DispatchError):
        file_weekly_dispatch(
            iso_year=2023,
            iso_week=10,
            rows=[row(p, completed_investment=Decimal(1000))],
            by=manager,
            now=now,
        )
    file_weekly_dispatch(
        iso_year=2023,
        iso_week=10,
        rows=[row(p, completed_investment=Decimal(1000), reason="第11周数字有误")],
        by=manager,
        now=now,
    )
    assert WeeklyDispatch.objects.get(iso_week=10).completed_investment == Decimal(1000)
    p.refresh_from_db()
    assert p.completed_investment == Decimal(500)  # the newest report's figure


@pytest.mark.django_db
def test_sheet_refuses_last_week_above_this_weeks_figure(en, county):
    user, (p1, _p2) = county
    year, week = current_week()
    f.dispatch(p1, iso_year=year, iso_week=week, completed_investment=Decimal(500))
    previous = week_label(*shift_week(*current_week(), -1))
    en.force_login(user)
    page = en.get(week_url(previous))
    response = en.post(
        week_url(previous), sheet_data(page, {p1.pk: {"completed_investment": "600"}})
    )
    assert response.status_code == 200
    form = next(f for f in response.context["formset"].forms if f.project.pk == p1.pk)
    assert "a later week" in " ".join(form.errors["completed_investment"])
    assert WeeklyDispatch.objects.count() == 1


# --- which projects must file: one rule for the sheet, the home page, the flags and the report --
@pytest.mark.django_db
def test_sheet_home_flags_and_report_agree_on_projects_stopping_mid_period(en):
    from tracker.models import MissingDispatch
    from tracker.overdue import flag_overdue
    from tracker.reports.rates import AsOf, rate_figures

    region = f.region(code="agree")
    county_user = f.user(Role.COUNTY, region=region)
    manager = f.user(Role.MANAGER)
    today = timezone.localdate()
    this = current_week(today)
    monday = datetime.date.fromisocalendar(*this, 1)
    weeks = [shift_week(*this, -2), shift_week(*this, -1), this]
    last_wednesday = monday - datetime.timedelta(days=5)

    def make(history=None, signed_on=None):
        return f.project(region=region, signed_on=signed_on or D(2022, 1, 1), history=history)

    started = (Stage.STARTED, D(2022, 4, 1))
    plain = make()
    ended_now = make([(Stage.TERMINATED, monday)])  # terminated during this week
    produced_now = make([started, (Stage.PRODUCTION, monday)])
    ended_last = make([(Stage.TERMINATED, last_wednesday)])  # during last week
    produced_last = make([started, (Stage.PRODUCTION, last_wednesday)])
    ended_before = make([(Stage.TERMINATED, monday - datetime.timedelta(days=21))])
    signed_last = make(signed_on=last_wednesday + datetime.timedelta(days=1))
    expected = {
        weeks[0]: {plain, ended_now, produced_now, ended_last, produced_last},
        weeks[1]: {plain, ended_now, produced_now, ended_last, produced_last, signed_last},
        weeks[2]: {plain, ended_now, produced_now, signed_last},
    }
    expected = {week: {p.pk for p in projects} for week, projects in expected.items()}

    # The rule itself.
    for week, pks in expected.items():
        assert set(Project.objects.due_to_dispatch(*week).values_list("pk", flat=True)) == pks

    # The dispatch sheet, week by week (a manager may open past weeks).
    en.force_login(manager)
    for week, pks in expected.items():
        page = en.get(week_url(week_label(*week)) + "?region=" + region.code)
        assert {form.project.pk for form in page.context["formset"].forms} == pks, week
    assert page.context["excluded"] == 3  # ended_last, produced_last, ended_before

    # The home page's counts for this week (county staff and the manager's city table).
    home = en.get(reverse("tracker:home"))
    row_ = next(r for r in home.context["regions"] if r["region"] == region)
    assert (row_["total"], row_["filed"]) == (4, 0)
    en.force_login(county_user)
    home = en.get(reverse("tracker:home"))
    assert home.context["status"] == {"total": 4, "filed": 0, "late": 0}
    items = {i["project"].pk: [str(r) for r in i["reasons"]] for i in home.context["items"]}
    assert items[ended_now.pk] == ["No report this week"]
    assert not {ended_last.pk, produced_last.pk, ended_before.pk} & set(items)

    # The daily check, run once this week's deadline has passed.
    flag_overdue(today=monday + datetime.timedelta(days=7), weeks=3)
    for week, pks in expected.items():
        flagged = MissingDispatch.objects.filter(iso_year=week[0], iso_week=week[1])
        assert set(flagged.values_list("project_id", flat=True)) == pks, week

    # The monthly report's 报送及时率 counts the same reports due over these three weeks.
    ctx = AsOf(monday + datetime.timedelta(days=6), start=monday - datetime.timedelta(days=14))
    assert [(y, w) for y, w, _s, _e in ctx.weeks] == weeks
    figures = rate_figures(ctx, ["timeliness"], by="region_id", ids=[region.pk])
    assert figures[region.pk]["timeliness"] == (0, sum(len(p) for p in expected.values()))


# --- the sheet is trustworthy: current figures, no silent lowering, stale rows -------------------
def edit_form_data(client, project, **changes):
    """What the browser sends back from a freshly opened project edit form, plus ``changes``."""
    form = client.get(reverse("tracker:project_edit", args=[project.pk])).context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else getattr(value, "isoformat", lambda v=value: v)()
    data["target_stage"] = ""
    data.update(changes)
    return data


def row_of(response, project):
    return next(f for f in response.context["formset"].forms if f.project.pk == project.pk)


@pytest.fixture
def reported(county):
    """County staff, and two projects whose last week's report is 8713 and 500 万元."""
    user, (p1, p2) = county
    year, week = shift_week(*current_week(), -1)
    for p, amount in ((p1, Decimal(8713)), (p2, Decimal(500))):
        Project.objects.filter(pk=p.pk).update(completed_investment=amount)
        f.dispatch(p, iso_year=year, iso_week=week, completed_investment=amount, progress="旧")
    return user, Project.objects.get(pk=p1.pk), Project.objects.get(pk=p2.pk)


def investment_history(project):
    return list(
        ChangeLog.objects.filter(
            content_type__model="project", object_id=project.pk, field="completed_investment"
        ).values_list("old_value", "new_value")
    )


@pytest.mark.django_db
def test_a_figure_raised_on_the_project_form_survives_a_text_only_sheet(client, reported):
    """The reported bug: 8713 → 9034.50 on the form, then a progress-only sheet save put
    8713.00 back (history "9034.50 → 8713.00")."""
    user, p1, _p2 = reported
    client.force_login(user)
    edit = client.post(
        reverse("tracker:project_edit", args=[p1.pk]),
        edit_form_data(client, p1, completed_investment="9034.50"),
    )
    assert edit.status_code == 302
    page = client.get(week_url())
    assert row_of(page, p1).initial["completed_investment"] == Decimal("9034.50")
    response = client.post(
        week_url(), sheet_data(page, {p1.pk: {"progress": "设备安装完成"}}), follow=True
    )
    assert response.redirect_chain  # saved
    p1.refresh_from_db()
    assert p1.completed_investment == Decimal("9034.50")
    report = WeeklyDispatch.objects.for_week(*current_week()).get(project=p1)
    assert (report.completed_investment, report.progress) == (Decimal("9034.50"), "设备安装完成")
    assert investment_history(p1) == [("8713.00", "9034.50")]  # the form's change only


@pytest.mark.django_db
def test_a_sheet_opened_before_the_project_form_save_is_refused_for_that_row(client, reported):
    user, p1, p2 = reported
    client.force_login(user)
    stale = client.get(week_url())  # pre-filled with 8713 for p1
    client.post(
        reverse("tracker:project_edit", args=[p1.pk]),
        edit_form_data(client, p1, completed_investment="9034.50"),
    )
    data = sheet_data(
        stale,
        {p1.pk: {"progress": "设备安装完成"}, p2.pk: {"completed_investment": "520"}},
    )
    response = client.post(week_url(), data)
    assert response.status_code == 200
    p1.refresh_from_db()
    assert p1.completed_investment == Decimal("9034.50")
    assert not WeeklyDispatch.objects.for_week(*current_week()).filter(project=p1).exists()
    # The other row was saved.
    assert WeeklyDispatch.objects.for_week(*current_week()).get(
        project=p2
    ).completed_investment == Decimal(520)
    html = response.content.decode()
    box = html[html.index(f'id="conflict-{p1.pk}"') :][:3000]
    assert "9034.50" in box and "8713.00" in box and "陈丽华" in box
    # Saving the typed 8713 again is not silent either: refused, both figures in Chinese.
    again = client.post(week_url(), sheet_data_bound(response))
    form = row_of(again, p1)
    message = " ".join(form.errors["completed_investment"])
    assert "9034.50" in message and "8713.00" in message and "不能减少" in message
    p1.refresh_from_db()
    assert p1.completed_investment == Decimal("9034.50")


def sheet_data_bound(response):
    """The POST data of a re-shown (bound) sheet, as the browser sends it back."""
    formset = response.context["formset"]
    return {k: v for k, v in formset.data.items()}


@pytest.mark.django_db
def test_staff_cannot_lower_the_current_figure_and_see_both_numbers(client, reported):
    user, p1, _p2 = reported
    Project.objects.filter(pk=p1.pk).update(completed_investment=Decimal("9034.50"))
    client.force_login(user)
    page = client.get(week_url())
    response = client.post(week_url(), sheet_data(page, {p1.pk: {"completed_investment": "8713"}}))
    assert response.status_code == 200
    message = " ".join(row_of(response, p1).errors["completed_investment"])
    assert "项目当前累计完成投资为 9034.50 万元" in message and "8713.00 万元" in message
    assert "reason" not in row_of(response, p1).fields  # staff are refused, not asked why
    assert not WeeklyDispatch.objects.for_week(*current_week()).exists()
    assert Project.objects.get(pk=p1.pk).completed_investment == Decimal("9034.50")


@pytest.mark.django_db
def test_two_tabs_the_later_save_does_not_overwrite_the_earlier(client, reported):
    """The reported bug: two people open the same week; the later save overwrote the
    earlier one's figure for the same project (9013 → 8963) without a word."""
    first_user, p1, p2 = reported
    second_user = f.user(Role.COUNTY, region=first_user.region, username="tongshi")
    other = client.__class__()
    client.force_login(first_user)
    other.force_login(second_user)
    tab_a, tab_b = client.get(week_url()), other.get(week_url())

    assert (
        client.post(
            week_url(), sheet_data(tab_a, {p1.pk: {"completed_investment": "9013"}})
        ).status_code
        == 302
    )
    response = other.post(
        week_url(),
        sheet_data(
            tab_b,
            {p1.pk: {"completed_investment": "8963"}, p2.pk: {"completed_investment": "600"}},
        ),
    )
    assert response.status_code == 200
    this = WeeklyDispatch.objects.for_week(*current_week())
    assert this.get(project=p1).completed_investment == Decimal(9013)
    assert Project.objects.get(pk=p1.pk).completed_investment == Decimal(9013)
    assert this.get(project=p2).completed_investment == Decimal(600)  # the other row saved
    html = response.content.decode()
    box = html[html.index(f'id="conflict-{p1.pk}"') :][:3000]
    assert "9013.00" in box and "8963" in box and "陈丽华" in box
    assert f'id="conflict-{p2.pk}"' not in html
    form = row_of(response, p1)
    assert form["completed_investment"].value() == "8963"  # what the clerk typed is kept
    p1.refresh_from_db()
    assert form["version"].value() == p1.version  # … with the current versions
    assert form["report_version"].value() == 1
    assert not ChangeLog.objects.filter(new_value="8963.00").exists()


@pytest.mark.django_db
def test_manager_lowers_a_figure_only_with_a_reason_kept_in_the_history(client, reported):
    _user, p1, _p2 = reported
    Project.objects.filter(pk=p1.pk).update(completed_investment=Decimal("9034.50"))
    manager = f.user(Role.MANAGER, username="shigongxin")
    client.force_login(manager)
    url = week_url() + "?region=" + p1.region.code
    page = client.get(url)
    refused = client.post(url, sheet_data(page, {p1.pk: {"completed_investment": "8713"}}))
    assert refused.status_code == 200
    reason_errors = " ".join(row_of(refused, p1).errors["reason"])
    assert "9034.50" in reason_errors and "8713.00" in reason_errors
    assert "data-needed" in refused.content.decode()  # the field is shown with its message
    assert not WeeklyDispatch.objects.for_week(*current_week()).exists()
    reason = "9034.50 为重复统计，核实为 8713"
    saved = client.post(
        url,
        sheet_data(page, {p1.pk: {"completed_investment": "8713", "reason": reason}}),
    )
    assert saved.status_code == 302
    p1.refresh_from_db()
    assert p1.completed_investment == Decimal(8713)
    entry = ChangeLog.objects.get(
        content_type__model="project", object_id=p1.pk, field="completed_investment"
    )
    assert (entry.old_value, entry.new_value, entry.note, entry.changed_by) == (
        "9034.50",
        "8713.00",
        reason,
        manager,
    )
    page = client.get(reverse("tracker:project_detail", args=[p1.pk])).content.decode()
    assert reason in page[page.index('id="history"') :]


@pytest.mark.django_db
def test_filing_the_sheet_makes_an_open_project_form_stale(client, reported):
    """One lock: the sheet bumps the project's version like the form does."""
    user, p1, _p2 = reported
    client.force_login(user)
    # (the same figure, so that the form's own check against the reports does not speak first)
    opened = edit_form_data(client, p1, responsible_unit="某单位", completed_investment="9000")
    page = client.get(week_url())
    client.post(week_url(), sheet_data(page, {p1.pk: {"completed_investment": "9000"}}))
    response = client.post(reverse("tracker:project_edit", args=[p1.pk]), opened)
    assert response.status_code == 200
    assert response.context["conflict"] is not None
    p1.refresh_from_db()
    assert (p1.completed_investment, p1.responsible_unit) == (Decimal(9000), "")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_saves_of_one_opened_sheet_on_postgres(county):
    """Both requests carry the versions the page showed: one files, the other is refused
    for the row (a conflict, not an error), and nothing is overwritten."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    user, (p1, _p2) = county
    now = timezone.now()
    iso_year, iso_week = current_week(timezone.localdate(now))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def submit(amount):
        try:
            barrier.wait(timeout=10)
            results.append(
                file_weekly_dispatch(
                    iso_year=iso_year,
                    iso_week=iso_week,
                    rows=[
                        row(
                            p1,
                            completed_investment=Decimal(amount),
                            version=p1.version,
                            report_version=0,
                        )
                    ],
                    by=user,
                    now=now,
                )
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(a,)) for a in (111, 222)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted((len(r.reports), len(r.conflicts)) for r in results) == [(0, 1), (1, 0)]
    (winner,) = [r for r in results if r.reports]
    report = WeeklyDispatch.objects.get()
    assert report.completed_investment == winner.reports[0].completed_investment
    assert report.version == 1


@pytest.mark.django_db
def test_the_filing_itself_refuses_a_row_behind_this_weeks_report(reported):
    """The version check under the lock, not only the sheet's early look: a row naming an
    older version of this week's report (someone changed only its text meanwhile, so the
    project's version did not move) is refused by ``file_weekly_dispatch`` itself."""
    user, p1, _p2 = reported
    week = current_week()
    row = {"project": p1.pk, "stage": "", "completed_investment": Decimal(9000)}
    first = file_weekly_dispatch(
        iso_year=week[0], iso_week=week[1], by=user, rows=[{**row, "progress": "甲"}]
    )
    report = first.reports[0]
    p1.refresh_from_db()
    file_weekly_dispatch(  # a text-only correction: the report moves on, the project not
        iso_year=week[0],
        iso_week=week[1],
        by=user,
        rows=[{**row, "progress": "乙", "version": p1.version, "report_version": 1}],
    )
    report.refresh_from_db()
    assert report.version == 2 and p1.version == Project.objects.get(pk=p1.pk).version
    late = file_weekly_dispatch(
        iso_year=week[0],
        iso_week=week[1],
        by=user,
        rows=[{**row, "progress": "丙", "version": p1.version, "report_version": 1}],
    )
    assert set(late.conflicts) == {p1.pk} and not late.reports
    report.refresh_from_db()
    assert report.progress == "乙"


# --- one rule, one home: the cap and the rounding of 万元 ------------------------------------
@pytest.mark.django_db
def test_a_half_cent_is_rounded_half_up_like_everywhere_else(county):
    """四舍五入 (money.wan): 100.125 万元 is stored as 100.13, not banker's 100.12."""
    user, (p, _) = county
    file_weekly_dispatch(
        iso_year=current_week()[0],
        iso_week=current_week()[1],
        rows=[row(p, completed_investment=Decimal("100.125"))],
        by=user,
    )
    assert WeeklyDispatch.objects.get(project=p).completed_investment == Decimal("100.13")
    assert Project.objects.get(pk=p.pk).completed_investment == Decimal("100.13")


@pytest.mark.django_db
def test_the_cap_says_the_same_on_the_project_and_on_the_sheet(county):
    user, (p, _) = county
    p.signed_amount = Decimal(1000)
    p.completed_investment = Decimal("1500.5")  # > 1000 × 1.5
    with pytest.raises(ValidationError) as caught:
        p.clean()
    on_project = caught.value.message_dict["completed_investment"]
    on_sheet = row_errors(
        p, {"completed_investment": Decimal("1500.5")}, by=user, previous_completed=None
    )["completed_investment"]
    assert on_project == [str(m) for m in on_sheet]
    assert "1500.50" in on_project[0] and "1000.00" in on_project[0]


# --- a filed week is a floor for its own correction ------------------------------------------
@pytest.fixture
def three_weeks(county):
    """Reports W-2 = 8000, W-1 = 8713, W0 = 9500 (the project's figure)."""
    user, (p, _) = county
    for back, amount in ((2, 8000), (1, 8713), (0, 9500)):
        year, week = shift_week(*current_week(), -back)
        f.dispatch(p, iso_year=year, iso_week=week, completed_investment=Decimal(amount))
    Project.objects.filter(pk=p.pk).update(completed_investment=Decimal(9500))
    return user, Project.objects.get(pk=p.pk)


@pytest.mark.django_db
def test_a_clerk_cannot_silently_lower_a_filed_past_week(en, three_weeks):
    """The reported hole: W-1 refiled as 8001 (above W-2, below W0) was accepted."""
    user, p = three_weeks
    last = week_label(*shift_week(*current_week(), -1))
    en.force_login(user)
    page = en.get(week_url(last))
    response = en.post(week_url(last), sheet_data(page, {p.pk: {"completed_investment": "8001"}}))
    assert response.status_code == 200
    message = " ".join(row_of(response, p).errors["completed_investment"])
    assert "8713.00" in message and "8001.00" in message
    year, week = shift_week(*current_week(), -1)
    assert WeeklyDispatch.objects.get(
        project=p, iso_year=year, iso_week=week
    ).completed_investment == Decimal(8713)
    with pytest.raises(DispatchError):
        file_weekly_dispatch(
            iso_year=year, iso_week=week, rows=[row(p, completed_investment=Decimal(8001))], by=user
        )


@pytest.mark.django_db
def test_a_manager_lowers_a_filed_past_week_only_with_a_reason(three_weeks):
    _user, p = three_weeks
    manager = f.user(Role.MANAGER)
    year, week = shift_week(*current_week(), -1)
    with pytest.raises(DispatchError) as caught:
        file_weekly_dispatch(
            iso_year=year,
            iso_week=week,
            rows=[row(p, completed_investment=Decimal(8001))],
            by=manager,
        )
    assert "8713.00" in " ".join(caught.value.rows[p.pk]["reason"])
    file_weekly_dispatch(
        iso_year=year,
        iso_week=week,
        rows=[row(p, completed_investment=Decimal(8001), reason="重复计入")],
        by=manager,
    )
    report = WeeklyDispatch.objects.get(project=p, iso_year=year, iso_week=week)
    assert report.completed_investment == Decimal(8001)
    assert Project.objects.get(pk=p.pk).completed_investment == Decimal(9500)  # W0 sets it


@pytest.mark.django_db
def test_the_conflict_panel_shows_the_weeks_own_figure_for_a_past_week(client, three_weeks):
    """Someone corrected W-1 (8713 → 8800) meanwhile: the panel shows 8800, not the
    project's 9500 (which is W0's)."""
    user, p = three_weeks
    last = week_label(*shift_week(*current_week(), -1))
    client.force_login(user)
    stale = client.get(week_url(last))
    year, week = shift_week(*current_week(), -1)
    file_weekly_dispatch(
        iso_year=year, iso_week=week, rows=[row(p, completed_investment=Decimal(8800))], by=user
    )
    response = client.post(
        week_url(last), sheet_data(stale, {p.pk: {"completed_investment": "8900"}})
    )
    assert response.status_code == 200
    html = response.content.decode()
    box = html[html.index(f'id="conflict-{p.pk}"') :][:3000]
    theirs = box[box.index('data-field="completed_investment"') :][:80]
    assert "8800.00" in theirs and "9500" not in theirs


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["version", "report_version"])
def test_a_row_posted_without_its_versions_is_refused_as_out_of_date(en, reported, missing):
    """The reported hole: tab B posted without the hidden version fields → 302, and it
    overwrote tab A's 9013."""
    user, p1, _p2 = reported
    en.force_login(user)
    tab_a, tab_b = en.get(week_url()), en.get(week_url())
    en.post(week_url(), sheet_data(tab_a, {p1.pk: {"completed_investment": "9013"}}))
    data = sheet_data(tab_b, {p1.pk: {"completed_investment": "9100"}})
    del data[row_of(tab_b, p1).add_prefix(missing)]
    response = en.post(week_url(), data)
    assert response.status_code == 200
    assert "reload it" in " ".join(row_of(response, p1).non_field_errors())
    assert "reload it" in response.content.decode()
    report = WeeklyDispatch.objects.for_week(*current_week()).get(project=p1)
    assert report.completed_investment == Decimal(9013)
    assert Project.objects.get(pk=p1.pk).completed_investment == Decimal(9013)


@pytest.mark.django_db
def test_a_text_only_correction_of_last_week_keeps_that_weeks_figure(client, reported):
    """The reported bug: W-1 = 8713, the project form raised the project to 9034.50, a
    correction of W-1's 形象进度 only wrote 9034.50 into W-1."""
    user, p1, _p2 = reported
    client.force_login(user)
    edit = client.post(
        reverse("tracker:project_edit", args=[p1.pk]),
        edit_form_data(client, p1, completed_investment="9034.50"),
    )
    assert edit.status_code == 302
    last = week_label(*shift_week(*current_week(), -1))
    page = client.get(week_url(last))
    assert row_of(page, p1).initial["completed_investment"] == Decimal(8713)
    assert "9034.50" in page.content.decode()  # the project's figure, shown beside it
    response = client.post(week_url(last), sheet_data(page, {p1.pk: {"progress": "已更正"}}))
    assert response.status_code == 302
    year, week = shift_week(*current_week(), -1)
    report = WeeklyDispatch.objects.get(project=p1, iso_year=year, iso_week=week)
    assert (report.completed_investment, report.progress) == (Decimal(8713), "已更正")
    p1.refresh_from_db()
    assert p1.completed_investment == Decimal("9034.50")
    assert investment_history(p1) == [("8713.00", "9034.50")]  # the form's change only
    # The current week still starts from the project's figure, not last week's report.
    assert row_of(client.get(week_url()), p1).initial["completed_investment"] == Decimal("9034.50")


# --- a page whose rows shifted between GET and POST ----------------------------------------------
@pytest.fixture
def paged_county(settings):
    """County staff, a colleague, and five projects on pages of two rows (by code: A1 … A5)."""
    settings.TRACKER = {**settings.TRACKER, "DISPATCH_SHEET_PAGE_SIZE": 2}
    region = f.region(name="袁州区", code="yuanzhou")
    user = f.user(Role.COUNTY, region=region, username="yuanzhou", display_name="陈丽华")
    colleague = f.user(Role.COUNTY, region=region, username="tongshi", display_name="王强")
    projects = [
        f.project(
            region=region, code=f"A{i}", signed_on=D(2022, 1, 1), signed_amount=Decimal(10000)
        )
        for i in range(1, 6)
    ]
    return user, colleague, projects


def this_weeks_figures():
    return dict(
        WeeklyDispatch.objects.for_week(*current_week()).values_list(
            "project_id", "completed_investment"
        )
    )


def week_kw():
    year, week = current_week()
    return {"iso_year": year, "iso_week": week}


def page_projects(response):
    return [form.project.pk for form in response.context["formset"].forms]


@pytest.mark.django_db
def test_a_project_entering_the_scope_earlier_in_the_order_does_not_shift_the_rows(
    client, paged_county
):
    user, _colleague, (_a1, _a2, a3, a4, _a5) = paged_county
    client.force_login(user)
    page = client.get(week_url() + "?page=2")
    assert page_projects(page) == [a3.pk, a4.pk]
    # Meanwhile a new project is signed whose code sorts first: page 2 now starts with A2.
    f.project(region=user.region, code="A0", signed_on=D(2022, 1, 1))
    data = sheet_data(
        page, {a3.pk: {"completed_investment": "300"}, a4.pk: {"completed_investment": "400"}}
    )
    response = client.post(week_url() + "?page=2", data)
    assert response.status_code == 302
    assert this_weeks_figures() == {a3.pk: Decimal(300), a4.pk: Decimal(400)}
    assert Project.objects.get(pk=a3.pk).completed_investment == Decimal(300)
    assert Project.objects.get(pk=a4.pk).completed_investment == Decimal(400)


@pytest.mark.django_db
def test_a_missing_only_page_files_its_rows_after_a_colleague_filed_one_of_them(
    client, paged_county
):
    user, colleague, (a1, a2, a3, a4, _a5) = paged_county
    client.force_login(user)
    url = week_url() + "?missing=1&page=2"
    page = client.get(url)
    assert page_projects(page) == [a3.pk, a4.pk]
    # A colleague files A1 (page 1) and A3 (this page): page 2 of the missing now holds A5.
    for p, amount in ((a1, 10), (a3, 30)):
        file_weekly_dispatch(
            rows=[row(p, completed_investment=Decimal(amount))], by=colleague, **week_kw()
        )
    data = sheet_data(page, {a4.pk: {"completed_investment": "400", "progress": "封顶"}})
    response = client.post(url, data)
    assert response.status_code == 302
    assert this_weeks_figures() == {a1.pk: 10, a3.pk: 30, a4.pk: 400}
    assert WeeklyDispatch.objects.for_week(*current_week()).get(project=a4).progress == "封顶"
    assert not WeeklyDispatch.objects.filter(project=a2).exists()
    # A row the colleague filed meanwhile and the user changed too is refused for that row,
    # beside the colleague's values; the other row of the page is saved.
    page = client.get(week_url() + "?page=1")
    assert page_projects(page) == [a1.pk, a2.pk]
    file_weekly_dispatch(
        rows=[row(a2, completed_investment=Decimal(20))], by=colleague, **week_kw()
    )
    Project.objects.filter(pk=a1.pk).update(code="A9")  # and page 1 moves on: A1 sorts last
    data = sheet_data(
        page, {a1.pk: {"completed_investment": "11"}, a2.pk: {"completed_investment": "22"}}
    )
    response = client.post(week_url() + "?page=1", data)
    assert response.status_code == 200
    assert this_weeks_figures() == {a1.pk: 11, a2.pk: 20, a3.pk: 30, a4.pk: 400}
    html = response.content.decode()
    box = html[html.index(f'id="conflict-{a2.pk}"') :][:3000]
    assert "20.00" in box and "22" in box and "王强" in box
    assert f'id="conflict-{a1.pk}"' not in html
    assert page_projects(response) == [a1.pk, a2.pk]  # the rows as posted, not page 1 now
    assert row_of(response, a2)["completed_investment"].value() == "22"


@pytest.mark.django_db
def test_a_forged_row_for_another_countys_project_refuses_the_whole_page(client, paged_county):
    user, _colleague, (a1, a2, *_rest) = paged_county
    elsewhere = f.project(region=f.region(), signed_on=D(2022, 1, 1))
    client.force_login(user)
    page = client.get(week_url())
    assert page_projects(page) == [a1.pk, a2.pk]
    data = sheet_data(
        page, {a1.pk: {"completed_investment": "100"}, a2.pk: {"completed_investment": "200"}}
    )
    data["row-1-project"] = elsewhere.pk  # A2's row now names the other county's project
    response = client.post(week_url(), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "未保存任何内容：本页有 1 行所填项目您本周无法报送" in html
    assert elsewhere.code not in html and elsewhere.name not in html
    assert page_projects(response) == [a1.pk]  # A1 shown again as typed
    assert row_of(response, a1)["completed_investment"].value() == "100"
    assert not WeeklyDispatch.objects.exists()
    assert not ChangeLog.objects.exists()
    for p in (a1, a2, elsewhere):
        assert Project.objects.get(pk=p.pk).completed_investment == 0
    # Saving the page shown again files A1, the rows it now holds.
    response = client.post(week_url(), sheet_data_bound(response))
    assert response.status_code == 302
    assert this_weeks_figures() == {a1.pk: 100}
