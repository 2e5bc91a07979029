"""The permission module, tested from its own table (``tracker.permissions.RULES``).

1. Every rule of the table has a hand-written expectation below (``EXPECTED``): for each
   role, which of the named rows of a small world it reaches. Both evaluators of the rule —
   ``restrict`` in SQL and ``may`` on one object in memory — must give exactly that set.
   A rule added to the table without an expectation fails ``test_every_rule_is_tested``.
2. Every route of the app × every role × GET and POST: whatever the permission module
   refuses, the page refuses (403/404, or the sheet re-rendered with an error) and the
   database fingerprint is unchanged; whatever it allows, the page opens.
"""

import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import translation

from tests import factories
from tests.test_scope import CASES as SCOPE_CASES
from tests.test_scope import bulk_post, dispatch_post, edit_post, tracker_routes
from tracker import permissions as perm
from tracker.choices import ImportKind, ListName, Role, Stage
from tracker.models import (
    ImportBatch,
    IndustryChain,
    Inspection,
    MonthlyReport,
    Problem,
    Project,
    RectificationItem,
    SavedView,
)
from tracker.reports.publishing import publish_monthly_report

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()  # noqa: DTZ011 — only dates well in the past are needed
SIGNED = TODAY - datetime.timedelta(days=200)


@pytest.fixture
def world():
    """Regions A and B, chains X and Y; a project in each of the four combinations."""
    a, b = factories.region(name="甲县"), factories.region(name="乙县")
    x, y = factories.chain(name="甲链"), factories.chain(name="乙链")
    users = {
        "manager": factories.user(Role.MANAGER, username="mgr"),
        "superuser": factories.user("", username="root", is_superuser=True, is_staff=True),
        "county_a": factories.user(Role.COUNTY, region=a, username="county_a"),
        "county_b": factories.user(Role.COUNTY, region=b, username="county_b"),
        "commissioner": factories.user(Role.COMMISSIONER, username="tepai"),
        "idle_commissioner": factories.user(Role.COMMISSIONER, username="tepai2"),
        "office_x": factories.user(Role.CHAIN_OFFICE, chain=x, username="office_x"),
        "office_y": factories.user(Role.CHAIN_OFFICE, chain=y, username="office_y"),
        "no_role": factories.user("", username="nobody"),
        "inactive_manager": factories.user(Role.MANAGER, username="gone", is_active=False),
    }
    rows = {"X": x, "Y": y}
    for region_name, region in (("a", a), ("b", b)):
        for chain_name, chain in (("x", x), ("y", y)):
            rows[region_name + chain_name] = factories.project(
                region=region,
                chain=chain,
                signed_on=SIGNED,
                name=f"项目{region_name}{chain_name}",
                history=[(Stage.STARTED, SIGNED + datetime.timedelta(days=30))],
                annual_planned_investment=Decimal("1000"),
                commissioner=users["commissioner"] if region_name + chain_name == "ax" else None,
            )
    for key in ("ax", "ay", "bx", "by"):
        project = rows[key]
        rows["p_" + key] = Problem.objects.create(
            title=f"问题{key}",
            project=project,
            chain=project.chain,
            region=project.region,
            raised_on=SIGNED,
            raised_by=users["manager"],
        )
    rows["p_X"] = Problem.objects.create(
        title="全链问题", chain=x, raised_on=SIGNED, raised_by=users["manager"]
    )
    # An inspection of project ax (region A) and a whole-region inspection of B.
    rows["i_ax"] = Inspection.objects.create(
        year=TODAY.year,
        quarter=(TODAY.month - 1) // 3 + 1,
        region=a,
        project=rows["ax"],
        inspected_on=TODAY,
        title="督查ax",
    )
    rows["i_b"] = Inspection.objects.create(
        year=TODAY.year,
        quarter=(TODAY.month - 1) // 3 + 1,
        region=b,
        inspected_on=TODAY,
        title="督查乙县",
    )
    for key in ("i_ax", "i_b"):
        rows["item_" + key] = RectificationItem.objects.create(
            inspection=rows[key],
            description=f"整改{key}",
            owner_unit="某单位",
            deadline=TODAY + datetime.timedelta(days=30),
        )
    # A finished export of county A's clerk and one of the manager (background jobs).
    for owner in ("county_a", "manager"):
        rows["job_" + owner] = factories.finished_job(
            users[owner], file_name="项目清单.csv", fallback_name="projects.csv"
        )
        # An uploaded spreadsheet (issue 11 imports), its uploader's alone.
        rows["batch_" + owner] = ImportBatch.objects.create(
            kind=ImportKind.PROJECTS, owner=users[owner], file_name="项目.csv", data=b"x"
        )
    # A saved view of county A's clerk and one of the manager (tracker.saved_views).
    for owner in ("county_a", "manager"):
        rows["sv_" + owner] = SavedView.objects.create(
            owner=users[owner], list_name=ListName.PROJECTS, name=f"视图{owner}"
        )
    return {"users": users, "rows": rows}


PROJECTS = {"ax", "ay", "bx", "by"}
CHAINS = {"X", "Y"}
PROBLEMS = {"p_ax", "p_ay", "p_bx", "p_by", "p_X"}
INSPECTIONS = {"i_ax", "i_b"}
NOBODY = {"idle_commissioner": set(), "no_role": set(), "inactive_manager": set()}
MANAGERS = {"manager": "all", "superuser": "all"}

# (target, action) → user → the named rows reached ("all" = every row of the target).
# Written from DOMAIN.md and the README's table of accounts, not from the code.
EXPECTED = {
    ("project", perm.VIEW): {
        **MANAGERS,
        "county_a": "all",
        "county_b": "all",
        "commissioner": {"ax"},
        "office_x": {"ax", "bx"},
        "office_y": {"ay", "by"},
    },
    ("project", perm.EDIT): {
        **MANAGERS,
        "county_a": {"ax", "ay"},
        "county_b": {"bx", "by"},
        "commissioner": {"ax"},
    },
    ("project", perm.DISPATCH): {
        **MANAGERS,
        "county_a": {"ax", "ay"},
        "county_b": {"bx", "by"},
        "commissioner": {"ax"},
    },
    ("project", perm.RAISE): {
        **MANAGERS,
        "county_a": {"ax", "ay"},
        "county_b": {"bx", "by"},
        "commissioner": {"ax"},
        "office_x": {"ax", "bx"},
        "office_y": {"ay", "by"},
    },
    ("project", perm.MANAGE): MANAGERS,
    ("industrychain", perm.VIEW): {
        **MANAGERS,
        "county_a": "all",
        "county_b": "all",
        "commissioner": "all",
        "idle_commissioner": "all",
        "office_x": {"X"},
        "office_y": {"Y"},
    },
    ("industrychain", perm.RAISE): {**MANAGERS, "office_x": {"X"}, "office_y": {"Y"}},
    ("problem", perm.VIEW): {
        **MANAGERS,
        "county_a": {"p_ax", "p_ay"},
        "county_b": {"p_bx", "p_by"},
        "commissioner": {"p_ax"},
        "office_x": {"p_ax", "p_bx", "p_X"},
        "office_y": {"p_ay", "p_by"},
    },
    ("problem", perm.ACT): {
        **MANAGERS,
        "office_x": {"p_ax", "p_bx", "p_X"},
        "office_y": {"p_ay", "p_by"},
    },
    ("problem", perm.RESOLVE): {
        **MANAGERS,
        "county_a": {"p_ax", "p_ay"},
        "county_b": {"p_bx", "p_by"},
        "office_x": {"p_ax", "p_bx", "p_X"},
        "office_y": {"p_ay", "p_by"},
    },
    ("inspection", perm.VIEW): {
        **MANAGERS,
        "county_a": {"i_ax"},
        "county_b": {"i_b"},
        "commissioner": {"i_ax"},
        "office_x": {"i_ax"},
    },
    ("inspection", perm.MANAGE): MANAGERS,
    ("inspection", perm.MARK_DONE): {**MANAGERS, "county_a": {"i_ax"}, "county_b": {"i_b"}},
    ("report", perm.PUBLISH): MANAGERS,
    ("assessment", perm.ADJUST): MANAGERS,
    ("site", perm.ENTER): MANAGERS,
    ("site", perm.OVERSEE): MANAGERS,
    # A background job is its requester's alone, whatever the role (a superuser included).
    ("job", perm.VIEW): {"county_a": {"job_county_a"}, "manager": {"job_manager"}},
    # So is an uploaded spreadsheet and its preview.
    ("importbatch", perm.VIEW): {"county_a": {"batch_county_a"}, "manager": {"batch_manager"}},
    # Every account with a role reads saved views (which ones it is shown is the views'
    # sharing); only the owner edits one; managers alone share with everyone.
    ("savedview", perm.VIEW): {
        **MANAGERS,
        **{
            who: "all"
            for who in (
                "county_a",
                "county_b",
                "commissioner",
                "idle_commissioner",
                "office_x",
                "office_y",
            )
        },
    },
    ("savedview", perm.EDIT): {"county_a": {"sv_county_a"}, "manager": {"sv_manager"}},
    ("savedview", perm.PUBLISH): MANAGERS,
}
# Rectification items follow their inspection.
ITEMS = {
    action: {
        who: reached if reached == "all" else {"item_" + key for key in reached}
        for who, reached in EXPECTED[("inspection", action)].items()
    }
    for action in (perm.VIEW, perm.MANAGE, perm.MARK_DONE)
}
ALL_NAMES = {
    "project": PROJECTS,
    "industrychain": CHAINS,
    "problem": PROBLEMS,
    "inspection": INSPECTIONS,
    "rectificationitem": {"item_i_ax", "item_i_b"},
    "job": {"job_county_a", "job_manager"},
    "importbatch": {"batch_county_a", "batch_manager"},
    "savedview": {"sv_county_a", "sv_manager"},
}
USERS = [
    "manager",
    "superuser",
    "county_a",
    "county_b",
    "commissioner",
    "idle_commissioner",
    "office_x",
    "office_y",
    "no_role",
    "inactive_manager",
]


def expected(target, action, who):
    table = ITEMS[action] if target == "rectificationitem" else EXPECTED[(target, action)]
    reached = table.get(who, set())
    if target not in ALL_NAMES:  # not rows: allowed or not
        return bool(reached)
    return set(ALL_NAMES[target]) if reached == "all" else set(reached)


def test_every_rule_is_tested():
    assert set(EXPECTED) == set(perm.RULES)


def test_anonymous_and_inactive_users_may_do_nothing():
    from django.contrib.auth.models import AnonymousUser

    for target, action in perm.RULES:
        assert perm.rule(AnonymousUser(), action, target) is None


def _rule_keys():
    return [*EXPECTED, *(("rectificationitem", a) for a in ITEMS)]


@pytest.mark.parametrize(("target", "action"), _rule_keys())
def test_sql_and_memory_give_the_expected_rows(world, target, action):
    for who in USERS:
        user = world["users"][who]
        want = expected(target, action, who)
        if target not in ALL_NAMES:
            assert perm.may(user, action, target) is want, f"may({who}, {action}, {target})"
            continue
        model = apps.get_model("tracker", target)
        names = {obj.pk: name for name, obj in world["rows"].items() if isinstance(obj, model)}
        in_sql = {
            names[pk]
            for pk in perm.restrict(model.objects.all(), user, action).values_list("pk", flat=True)
        }
        in_memory = {
            names[obj.pk]
            for obj in model.objects.filter(pk__in=names)
            if perm.may(user, action, obj)
        }
        assert in_sql == want, f"restrict({target}, {who}, {action})"
        assert in_memory == want, f"may({who}, {action}, {target})"


def test_the_managers_and_querysets_give_the_same_rows(world):
    rows, users = world["rows"], world["users"]
    named = {obj: name for name, obj in rows.items()}
    office = users["office_x"]
    assert {named[p] for p in Project.objects.visible_to(office)} == {"ax", "bx"}
    assert {named[p] for p in Project.objects.editable_by(users["county_b"])} == {"bx", "by"}
    assert {named[p] for p in Problem.objects.restrict(office, perm.ACT)} == {
        "p_ax",
        "p_bx",
        "p_X",
    }
    assert {named[c] for c in IndustryChain.objects.visible_to(office)} == {"X"}
    assert {named[i] for i in RectificationItem.objects.visible_to(users["commissioner"])} == {
        "item_i_ax"
    }


def test_in_memory_checks_of_unsaved_and_chain_wide_rows(world):
    """``may`` on a row not saved yet (a form's instance) and on a row whose path is empty
    (a chain-wide problem has no project, so no commissioner)."""
    rows, users = world["rows"], world["users"]
    unsaved = Project(region=rows["ax"].region, chain=rows["by"].chain)
    assert perm.may(users["county_a"], perm.EDIT, unsaved)
    assert not perm.may(users["county_b"], perm.EDIT, unsaved)
    assert perm.may(users["office_y"], perm.VIEW, unsaved)
    assert not perm.may(users["commissioner"], perm.VIEW, unsaved)  # nobody assigned
    assert not perm.may(users["commissioner"], perm.VIEW, rows["p_X"])
    assert not perm.may(users["county_a"], perm.RESOLVE, rows["p_X"])  # no region
    assert perm.may(users["office_x"], perm.RESOLVE, rows["p_X"])


def test_scope_note_and_home_region_follow_the_rules(world):
    users = world["users"]
    with translation.override("en"):
        assert str(perm.scope_note(users["county_a"])) == "All projects of the city."
        assert str(perm.scope_note(users["office_x"])) == "The projects of your chain (甲链)."
        assert str(perm.scope_note(users["commissioner"])) == (
            "The projects assigned to you as enterprise commissioner."
        )
        assert str(perm.scope_note(users["no_role"])) == (
            "No projects are visible to your account."
        )
    assert perm.home_region_id(users["county_a"]) == users["county_a"].region_id
    assert perm.home_region_id(users["manager"]) is None
    assert perm.home_region_id(users["commissioner"]) is None


# --- every route × every role × GET and POST --------------------------------------------------
def db_fingerprint():
    """Row count and highest id of every table of the app (one query), every project's
    version, name, stage and investment, every problem's version and status: a refused
    request must leave all of it as it was."""
    parts = []
    for model in apps.get_app_config("tracker").get_models():
        table = connection.ops.quote_name(model._meta.db_table)
        parts.append(f"(SELECT COUNT(*) FROM {table})")
        parts.append(f"(SELECT MAX(id) FROM {table})")
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        counts = cursor.fetchone()
    projects = Project.objects.order_by("pk").values_list(
        "pk", "version", "name", "stage", "completed_investment"
    )
    problems = Problem.objects.order_by("pk").values_list("pk", "version", "status")
    return counts, tuple(projects), tuple(problems)


def this_week():
    return "{}-W{:02d}".format(*TODAY.isocalendar()[:2])


def any_user(user, rows):
    """Any signed-in, active user opens the page (showing only what their scope holds)."""
    return user.is_active


def needs(action, target):
    """The route is open to ``user`` when the permission module allows ``action``."""

    def check(user, rows):
        obj = rows.get(target, target) if isinstance(target, str) else target
        return perm.may(user, action, obj)

    return check


def may_raise(user, rows):
    """The form opens for whoever has a project or a chain to raise a problem against."""
    return (
        perm.restrict(Project.objects.all(), user, perm.RAISE).exists()
        or perm.restrict(IndustryChain.objects.all(), user, perm.RAISE).exists()
    )


def month_of_signing():
    return SIGNED.strftime("%Y-%m")


# route → (URL kwargs from the world, who may GET, POST body or None, who may POST).
# The targets are rows of region B / chain X (bx, p_bx, i_b), so every role meets some
# refusals. A route that only takes POST answers 405 to a GET by anyone allowed.
ROUTES = {
    "home": (lambda r: {}, any_user, None, None),
    "project_list": (lambda r: {}, any_user, None, None),
    "project_detail": (lambda r: {"pk": r["bx"].pk}, needs(perm.VIEW, "bx"), None, None),
    "project_edit": (
        lambda r: {"pk": r["bx"].pk},
        needs(perm.EDIT, "bx"),
        lambda r: edit_post(r["bx"]),
        needs(perm.EDIT, "bx"),
    ),
    # A bulk change: the ticked row refused (listed on the result page) or the page refused.
    "project_bulk": (
        lambda r: {},
        "post-only",
        lambda r: bulk_post(r["bx"]),
        needs(perm.EDIT, "bx"),
    ),
    "project_bulk_apply": (
        lambda r: {},
        "post-only",
        lambda r: bulk_post(r["bx"]),
        needs(perm.EDIT, "bx"),
    ),
    "dispatch": (
        lambda r: {},
        needs(perm.DISPATCH, Project),
        lambda r: dispatch_post(r["bx"]),
        needs(perm.DISPATCH, "bx"),
    ),
    "dispatch_week": (
        lambda r: {"week": this_week()},
        needs(perm.DISPATCH, Project),
        lambda r: dispatch_post(r["bx"]),
        needs(perm.DISPATCH, "bx"),
    ),
    "inspection_list": (lambda r: {}, any_user, None, None),
    "inspection_create": (
        lambda r: {},
        needs(perm.MANAGE, "inspection"),
        lambda r: {
            "year": TODAY.year,
            "quarter": (TODAY.month - 1) // 3 + 1,
            "region": r["bx"].region_id,
            "title": "越权督查",
            "inspected_on": TODAY.isoformat(),
            "leader": "某领导",
        },
        needs(perm.MANAGE, "inspection"),
    ),
    "inspection_detail": (lambda r: {"pk": r["i_b"].pk}, needs(perm.VIEW, "i_b"), None, None),
    "inspection_item_add": (
        lambda r: {"pk": r["i_b"].pk},
        "post-only",
        lambda r: {
            "description": "越权整改",
            "owner_unit": "某单位",
            "deadline": (TODAY + datetime.timedelta(days=9)).isoformat(),
        },
        needs(perm.MANAGE, "i_b"),
    ),
    "inspection_item_action": (
        lambda r: {"pk": r["i_b"].pk, "item_pk": r["item_i_b"].pk, "action": "done"},
        "post-only",
        lambda r: {"note": "越权", "done_on": TODAY.isoformat()},
        needs(perm.MARK_DONE, "i_b"),
    ),
    "assessment_index": (lambda r: {}, any_user, None, None),
    "assessment_year": (lambda r: {"year": SIGNED.year}, any_user, None, None),
    "assessment_weights": (
        lambda r: {"year": SIGNED.year},
        needs(perm.ADJUST, "assessment"),
        lambda r: {},
        needs(perm.ADJUST, "assessment"),
    ),
    "assessment_adjust": (
        lambda r: {"year": SIGNED.year},
        needs(perm.ADJUST, "assessment"),
        lambda r: {"region": r["bx"].region_id, "points": "5", "reason": "越权"},
        needs(perm.ADJUST, "assessment"),
    ),
    "dashboard": (lambda r: {}, any_user, None, None),
    "chain_list": (lambda r: {}, any_user, None, None),
    "chain_detail": (lambda r: {"pk": r["Y"].pk}, needs(perm.VIEW, "Y"), None, None),
    "problem_list": (lambda r: {}, any_user, None, None),
    "problem_create": (
        lambda r: {},
        may_raise,
        lambda r: {"project": r["bx"].pk, "title": "越权提出的问题"},
        needs(perm.RAISE, "bx"),
    ),
    "problem_detail": (lambda r: {"pk": r["p_by"].pk}, needs(perm.VIEW, "p_by"), None, None),
    "problem_action": (
        lambda r: {"pk": r["p_by"].pk, "action": "assign"},
        "post-only",
        lambda r: {
            "assign-version": 1,
            "assign-assigned_unit": "越权单位",
            "assign-deadline": (TODAY + datetime.timedelta(days=5)).isoformat(),
        },
        needs(perm.ACT, "p_by"),
    ),
    "report_index": (lambda r: {}, any_user, None, None),
    "monthly_report": (lambda r: {"month": month_of_signing()}, any_user, None, None),
    "monthly_report_publish": (
        lambda r: {"month": month_of_signing()},
        needs(perm.PUBLISH, "report"),
        lambda r: {"reason": "越权发布", "version": 2, "confirm": "yes"},
        needs(perm.PUBLISH, "report"),
    ),
    "monthly_report_version": (
        lambda r: {"month": month_of_signing(), "version": 1},
        any_user,
        None,
        None,
    ),
    "job_detail": (
        lambda r: {"pk": r["job_county_a"].pk},
        needs(perm.VIEW, "job_county_a"),
        None,
        None,
    ),
    "job_download": (
        lambda r: {"pk": r["job_county_a"].pk},
        needs(perm.VIEW, "job_county_a"),
        None,
        None,
    ),
    # Imports: who may edit projects; a batch is its uploader's.
    "import_upload": (
        lambda r: {"kind": "projects"},
        needs(perm.EDIT, Project),
        lambda r: {"file": SimpleUploadedFile("b.csv", "项目编号,项目名称\nbx,越权\n".encode())},
        needs(perm.EDIT, Project),
    ),
    "import_template": (lambda r: {"kind": "projects"}, needs(perm.EDIT, Project), None, None),
    "import_detail": (
        lambda r: {"pk": r["batch_county_a"].pk},
        needs(perm.VIEW, "batch_county_a"),
        None,
        None,
    ),
    "import_confirm": (
        lambda r: {"pk": r["batch_county_a"].pk},
        "post-only",
        lambda r: {},
        needs(perm.VIEW, "batch_county_a"),
    ),
    # Saved views: anyone saves the page's filters as a private view, only managers share
    # one with everyone (403 otherwise); only the owner changes a view (404 for the others).
    "saved_view_create": (
        lambda r: {"list_name": "projects"},
        any_user,
        lambda r: {"name": "越权公开视图", "visibility": "public", "query": "region="},
        needs(perm.PUBLISH, "savedview"),
    ),
    "saved_view_action": (
        lambda r: {"pk": r["sv_county_a"].pk, "action": "rename"},
        "post-only",
        lambda r: {"name": "越权改名"},
        needs(perm.EDIT, "sv_county_a"),
    ),
    "list_columns": (lambda r: {"list_name": "projects"}, any_user, None, None),
}
FORM_CHOICE_ROUTES = {
    "dispatch",
    "dispatch_week",
    "problem_create",
    "project_bulk",
    "project_bulk_apply",
}
MATRIX_USERS = [u for u in USERS if u != "inactive_manager"]


def test_every_route_is_in_the_matrix():
    assert set(ROUTES) == tracker_routes() == set(SCOPE_CASES)


@pytest.mark.parametrize("who", MATRIX_USERS)
def test_every_route_obeys_the_permission_module(client, world, who):
    user, rows = world["users"][who], world["rows"]
    manager = world["users"]["manager"]
    publish_monthly_report(year=SIGNED.year, month=SIGNED.month, by=manager)
    assert MonthlyReport.objects.count() == 1
    client.force_login(user)
    wrong = []
    for route, (kwargs_for, may_get, post_for, may_post) in ROUTES.items():
        url = reverse(f"tracker:{route}", kwargs=kwargs_for(rows))
        before = db_fingerprint()
        response = client.get(url)
        # Open: the page, or a redirect to the page it stands for (not to the login).
        opened = response.status_code == 200 or (
            response.status_code == 302 and not response["Location"].startswith("/accounts/")
        )
        if may_get == "post-only":
            if not (opened or response.status_code in (403, 404, 405)):
                wrong.append(f"GET {route}: {response.status_code} for a POST-only page")
        elif may_get(user, rows):
            if not opened:
                wrong.append(f"GET {route}: {response.status_code}, the rules allow it")
        elif response.status_code not in (403, 404):
            wrong.append(f"GET {route}: {response.status_code}, the rules refuse it")
        if db_fingerprint() != before:
            wrong.append(f"GET {route} changed the database")
        if post_for is None or may_post(user, rows):
            continue
        before = db_fingerprint()
        response = client.post(url, post_for(rows))
        # Refused: 403/404, or (where the target is a choice in a form: the weekly sheet,
        # raising a problem) the form re-rendered with the choice refused.
        if response.status_code not in (403, 404) and not (
            route in FORM_CHOICE_ROUTES and response.status_code == 200
        ):
            wrong.append(f"POST {route}: {response.status_code}, the rules refuse it")
        if db_fingerprint() != before:
            wrong.append(f"POST {route} changed the database, the rules refuse it")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("who", MATRIX_USERS)
def test_the_back_office_obeys_the_permission_module(client, world, who):
    user = world["users"][who]
    user.is_staff = True  # even when someone ticks "staff"
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    response = client.get("/admin/")
    if perm.may(user, perm.ENTER, "site"):
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
