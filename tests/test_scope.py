"""Every URL of the app, walked by users whose scope does not include the target.

The table ``CASES`` must name every route of the ``tracker`` namespace: a new page without a
scope case fails ``test_every_route_has_a_scope_case``.
"""

import datetime
from decimal import Decimal

import pytest
from django.urls import get_resolver, reverse

from tests import factories
from tests import test_problems as tp
from tests import test_reports as tr
from tests.test_assessments import OWN_SCOPE_TESTS as ASSESSMENT_OWN_TESTS
from tests.test_inspections import OWN_SCOPE_TESTS as INSPECTION_OWN_TESTS
from tracker import imports
from tracker.bulk import BulkSet
from tracker.choices import ImportKind, ListName, Role, Stage, Visibility
from tracker.models import ChangeLog, Project, SavedView, StageChange, WeeklyDispatch
from tracker.spreadsheets import FIRST_DATA_ROW

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """Two regions, two chains; one project in each; users scoped to the first of each."""
    region_a, region_b = factories.region(name="甲县"), factories.region(name="乙县")
    chain_a, chain_b = factories.chain(name="甲链"), factories.chain(name="乙链")
    today = datetime.date.today()  # noqa: DTZ011 — only a date well in the past is needed
    signed = today - datetime.timedelta(days=200)
    mine = factories.project(
        region=region_a,
        chain=chain_a,
        signed_on=signed,
        name="本辖区项目",
        history=[(Stage.STARTED, signed + datetime.timedelta(days=30))],
        annual_planned_investment=Decimal("1000"),
    )
    theirs = factories.project(
        region=region_b,
        chain=chain_b,
        signed_on=signed,
        name="外辖区项目",
        history=[(Stage.STARTED, signed + datetime.timedelta(days=30))],
        annual_planned_investment=Decimal("1000"),
    )
    county = factories.user(Role.COUNTY, region=region_a)
    commissioner = factories.user(Role.COMMISSIONER)
    mine.commissioner = commissioner
    mine.save(update_fields=["commissioner"])
    chain_office = factories.user(Role.CHAIN_OFFICE, chain=chain_a)
    return {
        "mine": mine,
        "theirs": theirs,
        "users": {"county": county, "commissioner": commissioner, "chain": chain_office},
    }


def fingerprint(project):
    project.refresh_from_db()
    return (
        project.version,
        project.name,
        project.stage,
        project.completed_investment,
        StageChange.objects.count(),
        WeeklyDispatch.objects.count(),
        ChangeLog.objects.count(),
        Project.objects.count(),
    )


def edit_post(project):
    return {
        "version": project.version,
        "name": "被篡改的名称",
        "completed_investment": "1",
        "annual_planned_investment": "1",
        "target_stage": Stage.COMPLETED,
        "stage_effective_on": datetime.date.today().isoformat(),  # noqa: DTZ011
    }


def dispatch_post(project):
    return {
        "row-TOTAL_FORMS": "1",
        "row-INITIAL_FORMS": "1",
        "row-0-project": project.pk,
        "row-0-completed_investment": "5",
        "row-0-progress": "篡改",
        "row-0-confirm": "on",
    }


def bulk_post(project):
    """A hand-made bulk change of ``project``'s responsible unit, with the fingerprint that
    set really has (so only the scope can refuse it), for the value step and the apply."""
    return {
        "scope": "selected",
        "ids": [project.pk],
        "query": f"region={project.region_id}",
        "field": "responsible_unit",
        "responsible_unit": "被篡改的单位",
        "step": "review",
        "fingerprint": BulkSet({project.pk: project.version}).fingerprint,
    }


this_week = "{}-W{:02d}".format(*datetime.date.today().isocalendar()[:2])  # noqa: DTZ011


def someone_elses_job(project):
    """A finished export of another user (a manager, who sees every project): nobody else
    may open its page or its file."""
    owner = factories.user(Role.MANAGER)
    job = factories.finished_job(owner, project.name.encode())
    return {"pk": job.pk}


def someone_elses_import(project):
    """A manager's preview of a file naming the other project: nobody else may open it."""
    owner = factories.user(Role.MANAGER)
    data = f"项目编号,项目名称\n{project.code},{project.name}\n".encode()
    batch = imports.upload(kind=ImportKind.PROJECTS, by=owner, name="b.csv", data=data)
    return {"pk": batch.pk}


def someone_elses_view(project):
    """A public saved view of a manager: everyone reads it, nobody else may change it."""
    owner = factories.user(Role.MANAGER)
    view = SavedView.objects.create(
        owner=owner,
        list_name=ListName.PROJECTS,
        name="别人的视图",
        query=f"region={project.region_id}",
        visibility=Visibility.PUBLIC,
    )
    return {"pk": view.pk, "action": "rename"}


# route name → (kwargs builder, POST body builder or None). The target is always "theirs".
CASES = {
    "home": (lambda p: {}, None),
    "project_list": (lambda p: {}, None),
    "project_detail": (lambda p: {"pk": p.pk}, None),
    "project_edit": (lambda p: {"pk": p.pk}, edit_post),
    "project_bulk": (lambda p: {}, bulk_post),
    "project_bulk_apply": (lambda p: {}, bulk_post),
    "dispatch": (lambda p: {}, dispatch_post),
    "dispatch_week": (lambda p: {"week": this_week}, dispatch_post),
    # 季督查 / 年考核: the pages outside REVIEW_OWN_TESTS are walked here; the others (403 for
    # what a role may never do, objects in the URL) in tests/test_inspections.py and
    # tests/test_assessments.py.
    "inspection_list": (lambda p: {}, None),
    "inspection_create": (lambda p: {}, None),
    "inspection_detail": (lambda p: {"pk": 1}, None),
    "inspection_item_add": (lambda p: {"pk": 1}, None),
    "inspection_item_action": (lambda p: {"pk": 1, "item_pk": 1, "action": "done"}, None),
    "assessment_index": (lambda p: {}, None),
    "assessment_year": (lambda p: {"year": p.signed_on.year}, None),
    "assessment_weights": (lambda p: {"year": p.signed_on.year}, None),
    "assessment_adjust": (lambda p: {"year": p.signed_on.year}, None),
    "dashboard": (lambda p: {}, None),
    "chain_list": (lambda p: {}, None),
    "chain_detail": (lambda p: {"pk": p.chain_id}, None),
    "problem_list": (lambda p: {}, None),
    "problem_create": (lambda p: {}, tp.scope_raise_post),
    "problem_detail": (tp.scope_problem, None),
    "problem_action": (tp.scope_problem_step, tp.scope_assign_post),
    # 月通报: city-wide tables for every role; the red/yellow list only in the reader's scope.
    "report_index": (lambda p: {}, None),
    "monthly_report": (tr.report_month_kwargs, None),
    "monthly_report_publish": (tr.report_month_kwargs, tr.publish_post),
    "monthly_report_version": (tr.published_version_kwargs, None),
    "job_detail": (someone_elses_job, None),
    "job_download": (someone_elses_job, None),
    "import_upload": (lambda p: {"kind": "projects"}, None),
    "import_template": (lambda p: {"kind": "projects"}, None),
    "import_detail": (someone_elses_import, None),
    "import_confirm": (someone_elses_import, lambda p: {}),
    # Saved views and columns (issue 11): the form to save the page's filters and the
    # column chooser (a GET of it returns to the list) are anyone's; another user's view
    # cannot be renamed, updated or deleted (404, tests/test_saved_views.py has the POSTs).
    "saved_view_create": (lambda p: {"list_name": ListName.PROJECTS}, None),
    "saved_view_action": (someone_elses_view, None),
    "list_columns": (lambda p: {"list_name": ListName.PROJECTS}, None),
}

# Pages with an object in the URL that a user may not see at all answer 404.
# County staff may read every project (read-only outside their region).
READ_404 = {
    ("project_detail", "commissioner"),
    ("project_detail", "chain"),
    ("chain_detail", "chain"),  # a chain office opens only its own chain
    # A problem of another region and chain (tests/test_problems.py has the detail).
    *{
        (r, w)
        for r in ("problem_detail", "problem_action")
        for w in ("county", "commissioner", "chain")
    },
    # Another user's background job (tracker.jobs: the requester's own only).
    *{(r, w) for r in ("job_detail", "job_download") for w in ("county", "commissioner", "chain")},
    # Another user's import (tracker.imports: the uploader's own only).
    *{
        (r, w)
        for r in ("import_detail", "import_confirm")
        for w in ("county", "commissioner", "chain")
    },
    # Another user's saved view: never editable (saved_views.editable_views).
    *{("saved_view_action", w) for w in ("county", "commissioner", "chain")},
}


def tracker_routes():
    resolver = get_resolver()
    _namespace_prefix, sub = resolver.namespace_dict["tracker"]
    return {p.name for p in sub.url_patterns if getattr(p, "name", None)}


def test_every_route_has_a_scope_case():
    assert tracker_routes() == set(CASES)


REVIEW_OWN_TESTS = INSPECTION_OWN_TESTS | ASSESSMENT_OWN_TESTS


@pytest.mark.parametrize("route", sorted(set(CASES) - REVIEW_OWN_TESTS))
@pytest.mark.parametrize("who", ["county", "commissioner", "chain"])
def test_out_of_scope_get_shows_nothing_of_the_other_project(client, world, route, who):
    theirs, user = world["theirs"], world["users"][who]
    kwargs_for, _post = CASES[route]
    client.force_login(user)
    before = fingerprint(theirs)
    # follow: a county clerk's project list opens on their region (a redirect).
    response = client.get(reverse(f"tracker:{route}", kwargs=kwargs_for(theirs)), follow=True)
    if (route, who) in READ_404 or route == "project_edit":
        assert response.status_code == 404
    elif (
        route.startswith(("dispatch", "import_")) and who == "chain"
    ) or route == "monthly_report_publish":
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        body = response.content.decode(errors="replace")  # the import template is XLSX
        if who != "county" or route.startswith("dispatch"):
            assert theirs.name not in body, f"{route} shows another scope's project to {who}"
    assert fingerprint(theirs) == before


# Out-of-scope POSTs: every route × every role in tests/test_permissions.py.


@pytest.mark.parametrize("route", ["project_bulk", "project_bulk_apply"])
@pytest.mark.parametrize("scope", ["selected", "all"])
@pytest.mark.parametrize("who", ["county", "commissioner", "chain"])
def test_out_of_scope_bulk_changes_change_nothing(client, world, route, scope, who):
    """Ticked or "all matching" another region: refused (row by row, or the page), and
    neither the project nor any history changes."""
    theirs, user = world["theirs"], world["users"][who]
    client.force_login(user)
    before = fingerprint(theirs)
    response = client.post(reverse(f"tracker:{route}"), {**bulk_post(theirs), "scope": scope})
    assert response.status_code == (403 if who == "chain" else 200)
    if who == "commissioner":
        assert theirs.name not in response.content.decode()
    assert fingerprint(theirs) == before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("who", ["commissioner", "chain"])
def test_export_contains_only_the_users_scope(client, world, fmt, who):
    client.force_login(world["users"][who])
    response = client.get(reverse("tracker:project_list"), {"export": fmt})
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if fmt == "csv":
        text = body.decode("utf-8-sig")
        assert world["mine"].code in text
        assert world["theirs"].code not in text
    else:
        import io

        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(body), read_only=True).active
        rows = list(sheet.iter_rows(min_row=FIRST_DATA_ROW, values_only=True))[:-1]
        codes = {row[0] for row in rows}  # the data rows, between header and totals
        assert codes == {world["mine"].code}


@pytest.mark.parametrize("route", sorted(CASES))
def test_anonymous_user_is_sent_to_login(client, world, route):
    kwargs_for, _post = CASES[route]
    url = reverse(f"tracker:{route}", kwargs=kwargs_for(world["theirs"]))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_admin_is_closed_to_non_staff(client, world):
    client.force_login(world["users"]["county"])
    response = client.get("/admin/tracker/project/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_password_reset_by_mail_is_not_offered(client):
    assert client.get("/accounts/password_reset/").status_code in (302, 404)


def test_language_can_be_switched_before_logging_in(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "Log in" in client.get("/accounts/login/").content.decode()
