"""The 链长制 problem ledger: raising, the steps by role and status, extensions, bad input,
the stale form, scope on every route, list filters, export and fixed query counts."""

import csv
import datetime
import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from tests import factories
from tests.html_tables import column as html_column
from tracker import locking, permissions
from tracker import problems as ledger
from tracker.choices import ProblemAction, ProblemStatus, Role
from tracker.models import ChangeLog, Inspection, Problem, ProblemEvent
from tracker.rules import problem_is_overdue
from tracker.services import update_project
from tracker.spreadsheets import HEADER_ROW

pytestmark = pytest.mark.django_db

LIST = reverse("tracker:problem_list")
CREATE = reverse("tracker:problem_create")
DAY = datetime.timedelta(days=1)


def today():
    return timezone.localdate()


@pytest.fixture
def world():
    """Two regions, two chains, a project in each; a user of every role for the first."""
    region_a, region_b = factories.region(name="甲县"), factories.region(name="乙县")
    chain_x, chain_y = factories.chain(name="甲链"), factories.chain(name="乙链")
    commissioner = factories.user(Role.COMMISSIONER, username="tepai")
    mine = factories.project(
        region=region_a, chain=chain_x, name="本辖区项目", commissioner=commissioner
    )
    theirs = factories.project(region=region_b, chain=chain_y, name="外辖区项目")
    users = {
        "manager": factories.user(Role.MANAGER, username="boss"),
        "office": factories.user(Role.CHAIN_OFFICE, chain=chain_x, username="office_x"),
        "other_office": factories.user(Role.CHAIN_OFFICE, chain=chain_y, username="office_y"),
        "county": factories.user(Role.COUNTY, region=region_a, username="county_a"),
        "other_county": factories.user(Role.COUNTY, region=region_b, username="county_b"),
        "commissioner": commissioner,
    }
    return {
        "mine": mine,
        "theirs": theirs,
        "chain_x": chain_x,
        "chain_y": chain_y,
        "region_a": region_a,
        "users": users,
    }


def make_problem(project=None, *, chain=None, status=ProblemStatus.RAISED, by=None, **kw):
    """A problem written directly (the services are tested separately)."""
    kw.setdefault("title", "用地指标未落实")
    kw.setdefault("raised_on", today() - 10 * DAY)
    if status != ProblemStatus.RAISED:
        kw.setdefault("assigned_unit", "市发展改革委")
        kw.setdefault("deadline", today() + 10 * DAY)
    if status in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED):
        kw.setdefault("resolved_on", today() - DAY)
        kw.setdefault("resolution", "已协调解决")
    if status == ProblemStatus.CLOSED:
        kw.setdefault("closed_on", today())
    if by is None:
        by = factories.user(Role.MANAGER)
    return Problem.objects.create(
        project=project,
        chain=chain or project.chain,
        region=project.region if project else None,
        status=status,
        raised_by=by,
        **kw,
    )


def fingerprint(problem):
    problem.refresh_from_db()
    return (
        problem.version,
        problem.status,
        problem.deadline,
        problem.assigned_unit,
        problem.resolution,
        problem.escalated,
        Problem.objects.count(),
        ProblemEvent.objects.count(),
        ChangeLog.objects.count(),
    )


VALID = {
    ProblemAction.ASSIGN: lambda: {"unit": "市工信局", "deadline": today() + 20 * DAY},
    ProblemAction.EXTEND: lambda: {"deadline": today() + 30 * DAY, "reason": "征地程序未完成"},
    ProblemAction.RESOLVE: lambda: {"resolution": "已办结"},
    ProblemAction.CLOSE: lambda: {},
    ProblemAction.REOPEN: lambda: {"reason": "企业反映仍未解决"},
    ProblemAction.ESCALATE: lambda: {"reason": "逾期未办"},
}

# Written out by hand (not derived from tracker/problems.py) so that a change of the rules
# there fails here.
ROLE_MAY = {
    "manager": {"assign", "extend", "resolve", "close", "reopen", "escalate"},
    "office": {"assign", "extend", "resolve", "close", "reopen", "escalate"},
    "county": {"resolve"},
    "commissioner": set(),
    "other_office": set(),
    "other_county": set(),
}
STATUS_MAY = {
    "assign": {"raised"},
    "extend": {"assigned"},
    "resolve": {"assigned"},
    "close": {"resolved"},
    "reopen": {"resolved"},
    "escalate": {"raised", "assigned"},
}
TARGET = {
    "assign": "assigned",
    "extend": "assigned",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "assigned",
}


# --- raising -----------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["manager", "office", "county", "commissioner"])
def test_each_role_raises_a_problem_for_a_project_in_scope(client, world, who):
    client.force_login(world["users"][who])
    response = client.post(
        CREATE, {"project": world["mine"].pk, "title": "环评审批滞后", "description": "等待批复"}
    )
    problem = Problem.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tracker:problem_detail", args=[problem.pk])
    assert (problem.chain, problem.region, problem.status) == (
        world["chain_x"],
        world["region_a"],
        ProblemStatus.RAISED,
    )
    assert problem.raised_by == world["users"][who]
    assert list(problem.events.values_list("action", flat=True)) == [ProblemAction.RAISE]
    assert ChangeLog.objects.filter(object_id=problem.pk, action="create").count() == 1


@pytest.mark.parametrize("who", ["office", "county", "commissioner", "other_county"])
def test_nobody_raises_for_a_project_out_of_scope(client, world, who):
    client.force_login(world["users"][who])
    target = world["mine"] if who == "other_county" else world["theirs"]
    response = client.post(CREATE, {"project": target.pk, "title": "越权"})
    assert response.status_code == 200
    assert response.context["form"].errors["project"]
    assert not Problem.objects.exists()


def test_chain_office_raises_a_chain_wide_problem_for_its_chain_only(client, world):
    client.force_login(world["users"]["office"])
    response = client.post(CREATE, {"chain": world["chain_y"].pk, "title": "别的链"})
    assert response.status_code == 200
    assert response.context["form"].errors["chain"]
    response = client.post(CREATE, {"chain": world["chain_x"].pk, "title": "链上配套不足"})
    problem = Problem.objects.get()
    assert (problem.chain, problem.project, problem.region) == (world["chain_x"], None, None)


def test_county_staff_cannot_raise_a_chain_wide_problem(client, world):
    client.force_login(world["users"]["county"])
    response = client.post(CREATE, {"chain": world["chain_x"].pk, "title": "链上问题"})
    assert response.status_code == 200
    assert "chain" not in response.context["form"].fields
    assert response.context["form"].errors["project"]
    assert not Problem.objects.exists()


def test_project_and_chain_must_agree(world):
    with pytest.raises(ValidationError) as error:
        ledger.raise_problem(
            by=world["users"]["manager"],
            title="x",
            project=world["mine"],
            chain=world["chain_y"],
        )
    assert "project" in error.value.message_dict
    assert not Problem.objects.exists()


@pytest.mark.parametrize(
    "data, field",
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "正常", "description": "长" * 10000}, "description"),
    ],
)
def test_raise_form_refuses_bad_text_beside_the_field(client, world, data, field):
    client.force_login(world["users"]["county"])
    response = client.post(CREATE, {"project": world["mine"].pk, **data})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert f'id="error-{field}"' in response.content.decode()
    assert not Problem.objects.exists()


def test_a_user_without_a_scope_cannot_open_the_raise_form(client, world):
    client.force_login(factories.user(role=""))
    assert client.get(CREATE).status_code == 403


# --- steps by role and status ------------------------------------------------------------------
@pytest.mark.parametrize("action", sorted(STATUS_MAY))
@pytest.mark.parametrize("who", sorted(ROLE_MAY))
@pytest.mark.parametrize("status", ["raised", "assigned", "resolved", "closed"])
def test_steps_allowed_and_refused_by_role_and_status(world, action, who, status):
    problem = make_problem(world["mine"], status=status)
    user = world["users"][who]
    before = fingerprint(problem)
    service = ledger.SERVICES[action]
    call = lambda: service(  # noqa: E731
        problem_id=problem.pk, expected_version=problem.version, by=user, **VALID[action]()
    )
    if action not in ROLE_MAY[who]:
        with pytest.raises(PermissionDenied):
            call()
        assert fingerprint(problem) == before
    elif status not in STATUS_MAY[action]:
        with pytest.raises(ValidationError):
            call()
        assert fingerprint(problem) == before
    else:
        call()
        problem.refresh_from_db()
        assert problem.version == before[0] + 1
        assert problem.status == TARGET.get(action, status)
        event = problem.events.get()
        assert (event.action, event.from_status, event.to_status, event.by) == (
            action,
            status,
            problem.status,
            user,
        )
        assert ChangeLog.objects.filter(object_id=problem.pk).exists()
    # The page offers exactly the steps the service accepts.
    problem.refresh_from_db()
    offered = action in ledger.allowed_steps(user, make_problem(world["mine"], status=status))
    assert offered == (action in ROLE_MAY[who] and status in STATUS_MAY[action])


def test_the_whole_life_of_a_problem_through_the_pages(client, world):
    office, county = world["users"]["office"], world["users"]["county"]
    client.force_login(county)
    client.post(CREATE, {"project": world["mine"].pk, "title": "电力增容"})
    problem = Problem.objects.get()
    url = lambda action: reverse("tracker:problem_action", args=[problem.pk, action])  # noqa: E731
    client.force_login(office)
    deadline = today() + 14 * DAY
    response = client.post(
        url("assign"),
        {
            "assign-version": 1,
            "assign-assigned_unit": "国网宜春供电公司",
            "assign-deadline": deadline.isoformat(),
        },
    )
    assert response.status_code == 302
    client.force_login(county)
    client.post(url("resolve"), {"resolve-version": 2, "resolve-resolution": "已增容"})
    client.force_login(office)
    client.post(url("close"), {"close-version": 3})
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.CLOSED
    assert (problem.resolved_on, problem.closed_on) == (today(), today())
    assert list(problem.events.values_list("action", flat=True)) == [
        "raise",
        "assign",
        "resolve",
        "close",
    ]
    page = client.get(reverse("tracker:problem_detail", args=[problem.pk])).content.decode()
    assert "国网宜春供电公司" in page and "已增容" in page
    assert 'id="steps"' not in page  # nothing left to do on a closed problem


def test_reopen_clears_the_resolution_and_may_set_a_new_deadline(world):
    problem = make_problem(world["mine"], status=ProblemStatus.RESOLVED)
    new = today() + 5 * DAY
    ledger.reopen_problem(
        problem_id=problem.pk,
        expected_version=1,
        by=world["users"]["office"],
        reason="复核未通过",
        deadline=new,
    )
    problem.refresh_from_db()
    assert (problem.status, problem.resolution, problem.resolved_on, problem.deadline) == (
        ProblemStatus.ASSIGNED,
        "",
        None,
        new,
    )
    event = problem.events.get()
    assert (event.note, event.new_deadline) == ("复核未通过", new)
    assert ChangeLog.objects.filter(field="resolution", old_value="已协调解决").exists()


def test_escalation_is_recorded_once(world):
    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED)
    manager = world["users"]["manager"]
    ledger.escalate_problem(problem_id=problem.pk, expected_version=1, by=manager, reason="督办")
    problem.refresh_from_db()
    assert problem.escalated
    with pytest.raises(ValidationError):
        ledger.escalate_problem(
            problem_id=problem.pk, expected_version=2, by=manager, reason="再次督办"
        )
    assert ledger.ESCALATE not in ledger.allowed_steps(manager, problem)


# --- extension and deadlines -----------------------------------------------------------------
def _extend(problem, user, **kw):
    return ledger.extend_deadline(
        problem_id=problem.pk, expected_version=problem.version, by=user, **kw
    )


@pytest.mark.parametrize(
    "offset, reason, field",
    [
        (-1, "理由", "deadline"),  # earlier
        (0, "理由", "deadline"),  # the same date
        (5, "", "note"),  # no reason
        (5, "   ", "note"),  # only blanks
        (5, "长" * 10000, "note"),  # too long
    ],
)
def test_extension_needs_a_later_date_and_a_reason(world, offset, reason, field):
    current = today() + 3 * DAY
    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED, deadline=current)
    before = fingerprint(problem)
    with pytest.raises(ValidationError) as error:
        _extend(problem, world["users"]["office"], deadline=current + offset * DAY, reason=reason)
    assert field in error.value.message_dict
    assert fingerprint(problem) == before


def test_extension_to_a_date_still_in_the_past_is_refused(world):
    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED, deadline=today() - 5 * DAY)
    with pytest.raises(ValidationError) as error:
        _extend(problem, world["users"]["office"], deadline=today() - DAY, reason="理由")
    assert "deadline" in error.value.message_dict


def test_extension_records_old_and_new_date_and_clears_the_overdue_flag(world):
    old = today() - 3 * DAY
    problem = make_problem(
        world["mine"], status=ProblemStatus.ASSIGNED, deadline=old, overdue_since=old + DAY
    )
    new = today() + 30 * DAY
    _extend(problem, world["users"]["office"], deadline=new, reason="需省级审批")
    problem.refresh_from_db()
    assert (problem.deadline, problem.overdue_since) == (new, None)
    event = problem.events.get()
    assert (event.action, event.old_deadline, event.new_deadline, event.note) == (
        ProblemAction.EXTEND,
        old,
        new,
        "需省级审批",
    )
    assert ChangeLog.objects.filter(field="overdue_since", new_value="").exists()


def test_assign_refuses_a_deadline_before_the_raising_date_beside_the_field(client, world):
    problem = make_problem(world["mine"], raised_on=today() - 10 * DAY)
    client.force_login(world["users"]["office"])
    before = fingerprint(problem)
    url = reverse("tracker:problem_action", args=[problem.pk, "assign"])
    for deadline, word in [(today() - 11 * DAY, "raised"), (today() - DAY, "past")]:
        response = client.post(
            url,
            {
                "assign-version": 1,
                "assign-assigned_unit": "市工信局",
                "assign-deadline": deadline.isoformat(),
            },
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 200
        form = _bound_form(response, "assign")
        assert word in str(form.errors["deadline"])
        assert 'id="error-assign-deadline"' in response.content.decode()
    assert fingerprint(problem) == before


def test_every_message_about_a_step_comes_at_once(client, world):
    current = today() + 3 * DAY
    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED, deadline=current)
    client.force_login(world["users"]["office"])
    before = fingerprint(problem)
    response = client.post(
        reverse("tracker:problem_action", args=[problem.pk, "extend"]),
        {"extend-version": 1, "extend-deadline": (current - DAY).isoformat(), "extend-note": ""},
    )
    form = _bound_form(response, "extend")
    assert set(form.errors) == {"deadline", "note"}
    assert 'id="error-extend-deadline"' in response.content.decode()
    assert 'id="error-extend-note"' in response.content.decode()
    assert fingerprint(problem) == before


def test_raising_without_a_title_or_target_names_both(client, world):
    client.force_login(world["users"]["office"])
    form = client.post(CREATE, {"title": ""}).context["form"]
    assert set(form.errors) == {"title", "project"}
    assert not Problem.objects.exists()


def _bound_form(response, action):
    return next(s["form"] for s in response.context["step_forms"] if s["action"] == action)


# --- bad input on the pages ------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "   ", "长" * 10000])
def test_resolving_needs_a_resolution_text_of_sane_length(client, world, text):
    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED)
    client.force_login(world["users"]["county"])
    before = fingerprint(problem)
    response = client.post(
        reverse("tracker:problem_action", args=[problem.pk, "resolve"]),
        {"resolve-version": 1, "resolve-resolution": text},
    )
    assert response.status_code == 200
    assert _bound_form(response, "resolve").errors["resolution"]
    assert fingerprint(problem) == before


def test_script_tags_are_stored_as_typed_and_escaped_on_output(client, world):
    client.force_login(world["users"]["county"])
    script = "<script>alert(1)</script>"
    client.post(CREATE, {"project": world["mine"].pk, "title": script, "description": script})
    problem = Problem.objects.get()
    assert problem.title == script
    for url in (reverse("tracker:problem_detail", args=[problem.pk]), LIST):
        body = client.get(url).content.decode()
        assert script not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_stale_form_changes_nothing_and_says_so(client, world):
    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED)
    office = world["users"]["office"]
    # Someone else extended the deadline after the page was opened at version 1.
    _extend(problem, world["users"]["manager"], deadline=today() + 40 * DAY, reason="他人延期")
    before = fingerprint(problem)
    client.force_login(office)
    response = client.post(
        reverse("tracker:problem_action", args=[problem.pk, "resolve"]),
        {"resolve-version": 1, "resolve-resolution": "我已办结"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "Someone else changed this problem" in response.content.decode()
    assert fingerprint(problem) == before
    # The re-shown form carries the current version: submitting again applies it knowingly.
    form = _bound_form(response, "resolve")
    assert form["version"].value() == str(before[0])
    assert form["resolution"].value() == "我已办结"


def test_the_version_guard_is_in_the_update_itself(world, monkeypatch):
    """A save landing between the read and the write makes the UPDATE match no row."""
    from tracker.querysets import ProblemQuerySet

    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED)
    real_get = ProblemQuerySet.get
    raced = []

    def racing_get(self, *args, **kwargs):
        obj = real_get(self, *args, **kwargs)
        if not raced:
            raced.append(obj.pk)
            Problem.objects.filter(pk=obj.pk).update(version=obj.version + 1)
        return obj

    monkeypatch.setattr(ProblemQuerySet, "get", racing_get)
    with pytest.raises(locking.Conflict) as conflict:
        ledger.resolve_problem(
            problem_id=problem.pk,
            expected_version=1,
            by=world["users"]["manager"],
            resolution="x",
        )
    assert conflict.value.current.version == 2
    problem.refresh_from_db()  # (the simulated save was rolled back with the transaction)
    assert problem.status == ProblemStatus.ASSIGNED
    assert not problem.events.exists()
    assert not ChangeLog.objects.exists()


def test_a_step_not_possible_in_this_status_is_a_message(client, world):
    problem = make_problem(world["mine"], status=ProblemStatus.CLOSED)
    client.force_login(world["users"]["office"])
    before = fingerprint(problem)
    response = client.post(
        reverse("tracker:problem_action", args=[problem.pk, "resolve"]),
        {"resolve-version": 1, "resolve-resolution": "再次办结"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "This step is not possible" in response.content.decode()
    assert fingerprint(problem) == before


@pytest.mark.parametrize("who", ["commissioner", "county"])
def test_a_step_this_role_may_not_take_is_forbidden(client, world, who):
    problem = make_problem(world["mine"])
    client.force_login(world["users"][who])
    before = fingerprint(problem)
    response = client.post(
        reverse("tracker:problem_action", args=[problem.pk, "assign"]),
        {
            "assign-version": 1,
            "assign-assigned_unit": "x",
            "assign-deadline": (today() + DAY).isoformat(),
        },
    )
    assert response.status_code == 403
    assert fingerprint(problem) == before


def test_an_unknown_step_is_404(client, world):
    problem = make_problem(world["mine"])
    client.force_login(world["users"]["manager"])
    url = reverse("tracker:problem_action", args=[problem.pk, "delete"])
    assert client.post(url).status_code == 404


def test_the_detail_page_offers_only_this_users_steps(client, world):
    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED)
    url = reverse("tracker:problem_detail", args=[problem.pk])
    client.force_login(world["users"]["county"])
    body = client.get(url).content.decode()
    assert 'id="step-resolve"' in body
    assert 'id="step-extend"' not in body and 'id="step-escalate"' not in body
    client.force_login(world["users"]["commissioner"])
    body = client.get(url).content.decode()
    assert 'id="steps"' not in body
    client.force_login(world["users"]["office"])
    body = client.get(url).content.decode()
    for action in ("extend", "resolve", "escalate"):
        assert f'id="step-{action}"' in body
    assert 'id="step-assign"' not in body and 'id="step-close"' not in body


# --- scope -------------------------------------------------------------------------------------
SEES_MINE = {"manager", "office", "county", "commissioner"}


@pytest.mark.parametrize("who", sorted(ROLE_MAY))
def test_scope_of_the_list_and_the_detail_page(client, world, who):
    mine = make_problem(world["mine"], title="本辖区问题")
    theirs = make_problem(world["theirs"], title="外辖区问题")
    chain_wide = make_problem(chain=world["chain_x"], title="甲链整体问题")
    user = world["users"][who]
    client.force_login(user)
    expected = {
        "manager": {mine, theirs, chain_wide},
        "office": {mine, chain_wide},
        "other_office": {theirs},
        "county": {mine},
        "other_county": {theirs},
        "commissioner": {mine},
    }[who]
    assert set(Problem.objects.visible_to(user)) == expected
    body = client.get(LIST).content.decode()
    for problem in (mine, theirs, chain_wide):
        assert (problem.title in body) == (problem in expected)
        response = client.get(reverse("tracker:problem_detail", args=[problem.pk]))
        assert response.status_code == (200 if problem in expected else 404)


@pytest.mark.parametrize("who", sorted(ROLE_MAY))
def test_the_database_scope_of_the_steps_is_the_set_of_problems_with_some_step(world, who):
    problems = [
        make_problem(world["mine"]),
        make_problem(world["theirs"]),
        make_problem(chain=world["chain_x"]),
        make_problem(chain=world["chain_y"]),
    ]
    user = world["users"][who]
    expected = {p for p in problems if any(ledger.may_take(user, p, a) for a in ledger.STEPS)}
    in_database = set(Problem.objects.restrict(user, permissions.ACT)) | set(
        Problem.objects.restrict(user, permissions.RESOLVE)
    )
    assert in_database == expected
    assert expected <= set(Problem.objects.visible_to(user))


@pytest.mark.parametrize("action", sorted(STATUS_MAY))
@pytest.mark.parametrize("who", ["office", "county", "commissioner"])
def test_out_of_scope_steps_are_404_for_get_and_post_and_change_nothing(client, world, action, who):
    status = next(iter(STATUS_MAY[action]))
    theirs = make_problem(world["theirs"], status=status)
    client.force_login(world["users"][who])
    before = fingerprint(theirs)
    url = reverse("tracker:problem_action", args=[theirs.pk, action])
    assert client.get(url).status_code == 404
    data = {f"{action}-{k}": v for k, v in VALID[action]().items()}
    data.update(
        {
            f"{action}-version": 1,
            f"{action}-assigned_unit": "x",
            f"{action}-note": "越权",
            f"{action}-resolution": "越权",
        }
    )
    assert client.post(url, data).status_code == 404
    assert fingerprint(theirs) == before


def test_anonymous_users_are_sent_to_login(client, world):
    problem = make_problem(world["mine"])
    for url in (
        LIST,
        CREATE,
        reverse("tracker:problem_detail", args=[problem.pk]),
        reverse("tracker:problem_action", args=[problem.pk, "assign"]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# --- list: filters, overdue, export, queries --------------------------------------------------
@pytest.fixture
def ledger_rows(world):
    """Problems that differ in every filtered attribute."""
    mine, theirs = world["mine"], world["theirs"]
    return {
        "open_overdue": make_problem(
            mine,
            status=ProblemStatus.ASSIGNED,
            title="供地滞后",
            assigned_unit="袁州区自然资源分局",
            deadline=today() - 2 * DAY,
            overdue_since=today() - DAY,
            escalated=True,
        ),
        "late_unflagged": make_problem(
            theirs, status=ProblemStatus.ASSIGNED, title="融资困难", deadline=today() - DAY
        ),
        "due_today": make_problem(
            theirs, status=ProblemStatus.ASSIGNED, title="用工短缺", deadline=today()
        ),
        "resolved_late": make_problem(
            mine,
            status=ProblemStatus.RESOLVED,
            title="电力接入",
            deadline=today() - 5 * DAY,
            overdue_since=today() - 4 * DAY,
        ),
        "raised": make_problem(
            chain=world["chain_x"], title="链上配套", description="缺少隔膜企业"
        ),
    }


def _titles(response):
    return {row.record.title for row in response.context["table"].page.object_list}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, {"open_overdue", "late_unflagged", "due_today", "resolved_late", "raised"}),
        ({"overdue": "true"}, {"open_overdue", "late_unflagged"}),
        ({"overdue": "false"}, {"due_today", "resolved_late", "raised"}),
        ({"escalated": "true"}, {"open_overdue"}),
        ({"status": "resolved"}, {"resolved_late"}),
        ({"q": "隔膜"}, {"raised"}),  # description
        ({"q": "本辖区"}, {"open_overdue", "resolved_late"}),  # project name
        ({"q": "自然资源"}, {"open_overdue"}),  # assigned unit
        ({"q": "融资"}, {"late_unflagged"}),  # title
        ({"region": "B"}, {"late_unflagged", "due_today"}),
        ({"chain": "X"}, {"open_overdue", "resolved_late", "raised"}),
        ({"deadline_after": 0, "deadline_before": 0}, {"due_today"}),
        ({"deadline_before": -2}, {"open_overdue", "resolved_late"}),
    ],
)
def test_each_filter_narrows_the_list(client, world, ledger_rows, params, expected):
    names = {v.title: k for k, v in ledger_rows.items()}
    query = {}
    for key, value in params.items():
        if key == "region":
            value = world["theirs"].region_id
        elif key == "chain":
            value = world["chain_x"].pk
        elif key.startswith("deadline"):
            value = (today() + value * DAY).isoformat()
        query[key] = value
    client.force_login(world["users"]["manager"])
    response = client.get(LIST, query)
    assert response.status_code == 200
    assert {names[t] for t in _titles(response)} == expected
    assert response.context["totals"]["count"] == len(expected)


def test_overdue_is_one_rule_in_the_database_and_in_python(world, ledger_rows):
    flagged_not_late = make_problem(  # flagged by the daily check, deadline now later
        world["mine"], status=ProblemStatus.ASSIGNED, overdue_since=today() - 3 * DAY
    )
    expected = {"open_overdue", "late_unflagged"}
    in_python = {k for k, p in ledger_rows.items() if problem_is_overdue(p, today())}
    in_sql = set(Problem.objects.overdue(today()).values_list("title", flat=True))
    assert in_python == expected
    assert in_sql == {ledger_rows[k].title for k in expected} | {flagged_not_late.title}
    assert problem_is_overdue(flagged_not_late, today())
    # the day itself: a deadline of today is overdue from tomorrow, in both
    due_today = ledger_rows["due_today"]
    assert not problem_is_overdue(due_today, today())
    assert problem_is_overdue(due_today, today() + DAY)
    assert Problem.objects.overdue(today() + DAY).filter(pk=due_today.pk).exists()


def test_overdue_badge_and_header_count(client, world, ledger_rows):
    client.force_login(world["users"]["manager"])
    response = client.get(LIST, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.context["totals"]["overdue"] == 2
    assert 'id="overdue-count"' in body
    assert body.count('class="badge badge-overdue"') == 3  # the header link and two rows
    assert "badge-escalated" in body
    client.force_login(world["users"]["office"])  # its chain: one overdue
    assert client.get(LIST).context["totals"]["overdue"] == 1
    # The header count links to the overdue filter, which shows itself chosen.
    body = client.get(LIST, {"overdue": "true"}).content.decode()
    assert '<option value="true" selected>' in body


def test_a_bad_filter_value_shows_beside_the_filter_and_lists_nothing(client, world, ledger_rows):
    client.force_login(world["users"]["manager"])
    response = client.get(
        LIST,
        {"deadline_after": today().isoformat(), "deadline_before": (today() - DAY).isoformat()},
    )
    assert response.status_code == 200
    assert 'id="error-deadline_before"' in response.content.decode()
    assert response.context["totals"]["count"] == 0


@pytest.fixture
def sortable_ledger():
    """Four problems whose every sortable column (but status) puts them in another order.

    Titles and units start with a capital letter so that any collation orders them alike;
    chains and regions sort by their sort order, which runs against the order of their
    names; ids follow the order of creation.
    """
    rows = [
        # title, chain order, region order, project code, unit, deadline and raised (days)
        ("C 用地", 2, 4, "Q3", "B 局", 30, -40),
        ("A 环评", 4, 1, "Q1", "D 局", 10, -20),
        ("D 电力", 1, 3, "Q4", "A 局", 40, -30),
        ("B 资金", 3, 2, "Q2", "C 局", 20, -10),
    ]
    keys = {}
    for n, (title, chain_order, region_order, code, unit, deadline, raised) in enumerate(rows):
        project = factories.project(
            code=code,
            region=factories.region(name=f"区{9 - region_order}", sort_order=region_order),
            chain=factories.chain(name=f"链{9 - chain_order}", sort_order=chain_order),
        )
        make_problem(
            project,
            status=ProblemStatus.ASSIGNED,
            title=title,
            assigned_unit=unit,
            deadline=today() + deadline * DAY,
            raised_on=today() + raised * DAY,
        )
        keys[title] = {
            "id": n,
            "title": title,
            "chain": chain_order,
            "region": region_order,
            "project": code,
            "assigned_unit": unit,
            "deadline": deadline,
            "raised_on": raised,
        }
    return keys


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(
    "column",
    ["id", "title", "chain", "region", "project", "assigned_unit", "deadline", "raised_on"],
)
def test_the_rendered_rows_follow_the_chosen_column_both_ways(
    client, sortable_ledger, column, descending
):
    client.force_login(factories.user(Role.MANAGER))
    sort = f"-{column}" if descending else column
    shown = html_column(client.get(LIST, {"sort": sort}), "problems", 1)  # the titles
    wanted = sorted(
        sortable_ledger, key=lambda title: sortable_ledger[title][column], reverse=descending
    )
    assert shown == wanted


def test_the_default_order_is_the_newest_raised_first(client, sortable_ledger):
    client.force_login(factories.user(Role.MANAGER))
    shown = html_column(client.get(LIST), "problems", 1)
    assert shown == ["B 资金", "A 环评", "D 电力", "C 用地"]  # raised 10, 20, 30, 40 days ago


def test_sorting_by_status_answers_with_every_row(client, sortable_ledger):
    # Status sorts by its stored key (alphabetical), not by the ledger's steps: rows only.
    client.force_login(factories.user(Role.MANAGER))
    for sort in ("status", "-status"):
        assert sorted(html_column(client.get(LIST, {"sort": sort}), "problems", 1)) == sorted(
            sortable_ledger
        )


def test_page_size_is_whitelisted(client, world):
    for n in range(30):
        make_problem(world["mine"], title=f"问题{n}")
    client.force_login(world["users"]["manager"])
    assert len(client.get(LIST, {"per_page": 25}).context["table"].page.object_list) == 25
    assert len(client.get(LIST, {"per_page": 7}).context["table"].page.object_list) == 30


def _csv(response):
    assert response.streaming
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_export_is_exactly_the_filtered_and_scoped_set(client, world, ledger_rows):
    client.force_login(world["users"]["office"])
    rows = _csv(client.get(LIST, {"overdue": "true", "export": "csv"}))
    assert rows[0][:4] == ["编号", "问题", "产业链", "县(市、区)"]
    assert [r[1] for r in rows[1:]] == ["供地滞后"]
    with translation.override("zh-hans"):
        assert rows[1][6] == str(ProblemStatus.ASSIGNED.label)  # the label as the UI shows it
    assert rows[1][10] == "是"  # escalated
    client.force_login(world["users"]["manager"])
    rows = _csv(client.get(LIST, {"export": "csv"}))
    assert len(rows) == 1 + len(ledger_rows)


def test_csv_export_neutralises_formulas(client, world):
    make_problem(world["mine"], title="=HYPERLINK(1)")
    client.force_login(world["users"]["manager"])
    rows = _csv(client.get(LIST, {"export": "csv"}))
    assert rows[1][1] == "'=HYPERLINK(1)"


def test_xlsx_export_has_dates_as_dates_and_only_the_filtered_set(client, world, ledger_rows):
    from openpyxl import load_workbook

    client.force_login(world["users"]["manager"])
    response = client.get(LIST, {"status": "assigned", "export": "xlsx"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    rows = list(sheet.iter_rows(min_row=HEADER_ROW, values_only=True))[:-1]  # totals last
    assert rows[0][0] == "编号"
    assert {r[1] for r in rows[1:]} == {"供地滞后", "融资困难", "用工短缺"}
    deadlines = {r[1]: r[8] for r in rows[1:]}
    assert deadlines["用工短缺"].date() == today()


def test_export_with_bad_filters_shows_the_page_instead(client, world):
    client.force_login(world["users"]["manager"])
    response = client.get(LIST, {"deadline_after": "not-a-date", "export": "csv"})
    assert not response.streaming
    assert response.status_code == 200


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_rows(client, world):
    client.force_login(world["users"]["manager"])
    for n in range(5):
        make_problem(world["mine"], title=f"问题{n}", status=ProblemStatus.ASSIGNED)
    small = _queries(client, LIST)
    for n in range(45):
        make_problem(world["theirs"], title=f"问题b{n}", escalated=True)
    assert _queries(client, LIST) == small


def test_detail_query_count_does_not_grow_with_events(client, world):
    problem = make_problem(world["mine"], status=ProblemStatus.ASSIGNED)
    client.force_login(world["users"]["office"])
    url = reverse("tracker:problem_detail", args=[problem.pk])
    # A first request fills the per-process ContentType cache, which the extensions below
    # would otherwise fill between the two measurements (one query fewer the second time).
    client.get(url)
    small = _queries(client, url)
    for n in range(10):
        problem.refresh_from_db()
        _extend(
            problem, world["users"]["manager"], deadline=today() + (20 + n) * DAY, reason="延期"
        )
    assert _queries(client, url) == small


# --- a project moved to another region or chain takes its problems along ----------------------
def _move(project, by, **data):
    project.refresh_from_db()
    return update_project(project_id=project.pk, data=data, expected_version=project.version, by=by)


def _problem_history(problem):
    return {
        (r.field, r.old_value, r.new_value, r.changed_by.username)
        for r in ChangeLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Problem), object_id=problem.pk
        )
    }


def test_a_moved_projects_problems_follow_it_to_the_new_region_and_chain(client, world):
    users = world["users"]
    mine = world["mine"]
    problem = make_problem(mine, status=ProblemStatus.ASSIGNED, title="搬迁后的问题")
    closed = make_problem(mine, status=ProblemStatus.CLOSED, title="已销号的问题")
    chain_wide = make_problem(chain=world["chain_x"], title="甲链整体问题")
    untouched = make_problem(world["theirs"], title="乙县原有问题")
    region_b, chain_y = world["theirs"].region, world["chain_y"]

    _move(mine, users["manager"], region=region_b, chain=chain_y)

    detail = reverse("tracker:problem_detail", args=[problem.pk])
    resolve = reverse("tracker:problem_action", args=[problem.pk, "resolve"])
    data = {"resolve-version": problem.version, "resolve-resolution": "已协调解决"}
    # The old region's staff and the old chain's office lose it: 404, nothing changes.
    for who in ("county", "office"):
        client.force_login(users[who])
        before = fingerprint(problem)
        assert client.get(detail).status_code == 404
        assert client.post(resolve, data).status_code == 404
        assert fingerprint(problem) == before
        assert problem.title not in client.get(LIST).content.decode()
    # The new chain's office sees it; the new region's staff see and resolve it.
    client.force_login(users["other_office"])
    assert client.get(detail).status_code == 200
    assert problem.title in client.get(LIST).content.decode()
    client.force_login(users["other_county"])
    assert client.get(detail).status_code == 200
    assert client.post(resolve, data).status_code == 302
    problem.refresh_from_db()
    assert problem.status == ProblemStatus.RESOLVED

    # Every problem of the project moved, closed ones too, with the move in their history.
    for moved in (problem, closed):
        moved.refresh_from_db()
        assert (moved.region, moved.chain) == (region_b, chain_y)
        assert {
            ("region", "甲县", "乙县", "boss"),
            ("chain", "甲链", "乙链", "boss"),
        } <= _problem_history(moved)
    # A chain-wide problem and another project's problem are not the project's.
    chain_wide.refresh_from_db()
    untouched.refresh_from_db()
    assert (chain_wide.region, chain_wide.chain) == (None, world["chain_x"])
    assert (untouched.region, untouched.chain) == (region_b, chain_y)
    assert not _problem_history(chain_wide) and not _problem_history(untouched)


def test_a_move_of_region_only_keeps_the_chain_and_records_only_the_region(world):
    problem = make_problem(world["mine"])
    _move(world["mine"], world["users"]["manager"], region=world["theirs"].region)
    problem.refresh_from_db()
    assert (problem.region, problem.chain) == (world["theirs"].region, world["chain_x"])
    assert _problem_history(problem) == {("region", "甲县", "乙县", "boss")}
    assert problem.version == 1  # not an edit of the problem: forms opened before stay valid


def test_an_edit_that_moves_nothing_leaves_the_problems_alone(world):
    problem = make_problem(world["mine"])
    _move(world["mine"], world["users"]["manager"], responsible_unit="宜春市工信局")
    problem.refresh_from_db()
    assert (problem.region, problem.chain) == (world["region_a"], world["chain_x"])
    assert not _problem_history(problem)


def test_inspections_stay_with_the_region_that_was_inspected(world):
    """An inspection records a visit to a region; moving the project does not rewrite it."""
    inspection = Inspection.objects.create(
        year=2022,
        quarter=3,
        region=world["region_a"],
        project=world["mine"],
        title="三季度督查",
        inspected_on=datetime.date(2022, 9, 20),
    )
    _move(world["mine"], world["users"]["manager"], region=world["theirs"].region)
    inspection.refresh_from_db()
    assert inspection.region == world["region_a"]


def test_a_refused_stage_change_rolls_the_problems_move_back_too(world):
    problem = make_problem(world["mine"])
    before = fingerprint(problem)
    with pytest.raises(ValidationError):
        update_project(
            project_id=world["mine"].pk,
            data={"region": world["theirs"].region, "chain": world["chain_y"]},
            expected_version=1,
            by=world["users"]["manager"],
            stage=world["mine"].stage,  # already at this stage: advance_to refuses
            stage_on=today(),
        )
    assert fingerprint(problem) == before
    problem.refresh_from_db()
    assert (problem.region, problem.chain) == (world["region_a"], world["chain_x"])


def test_moving_a_project_costs_the_same_queries_for_one_problem_or_many(world):
    manager = world["users"]["manager"]
    region_b, chain_y = world["theirs"].region, world["chain_y"]
    one = factories.project(region=world["region_a"], chain=world["chain_x"])
    many = factories.project(region=world["region_a"], chain=world["chain_x"])
    make_problem(one, by=manager)
    for _n in range(6):
        make_problem(many, by=manager)
    ContentType.objects.get_for_models(Problem, one)  # cached for both runs alike

    counts = []
    for project in (one, many):
        project.refresh_from_db()
        with CaptureQueriesContext(connection) as queries:
            _move(project, manager, region=region_b, chain=chain_y)
        sqls = [q["sql"] for q in queries.captured_queries]
        problem_updates = [q for q in sqls if q.startswith('UPDATE "tracker_problem"')]
        history_inserts = [q for q in sqls if q.startswith('INSERT INTO "tracker_changelog"')]
        assert (len(problem_updates), len(history_inserts)) == (1, 1), sqls
        counts.append(len(sqls))
    assert counts[0] == counts[1]
    assert Problem.objects.filter(project=many, region=region_b, chain=chain_y).count() == 6
    assert (
        ChangeLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Problem), field="region"
        ).count()
        == 7
    )


# --- builders for the generic walk in tests/test_scope.py (the target is "their" project) -----
def scope_problem(project):
    """URL kwargs of a problem raised against ``project`` (made on the fly)."""
    problem = make_problem(project)
    return {"pk": problem.pk}


def scope_problem_step(project):
    return {**scope_problem(project), "action": "assign"}


def scope_raise_post(project):
    return {"project": project.pk, "title": "越权提出的问题"}


def scope_assign_post(project):
    return {
        "assign-version": 1,
        "assign-assigned_unit": "越权单位",
        "assign-deadline": (today() + 5 * DAY).isoformat(),
    }


# --- demo data ---------------------------------------------------------------------------------
def test_seed_adds_the_demo_problems_once_in_every_state(settings):
    from django.core.management import call_command

    settings.DEBUG = True  # the demo accounts (and so the demo problems) are for DEBUG only
    call_command("seed", "--today", "2026-11-30", "--skip-history", stdout=io.StringIO())
    # The demo problems are dated from the load date; the 2022 ledger (titles starting with
    # the project code, tested in test_seed.py) is left out here.
    problems = list(Problem.objects.exclude(title__startswith="YC2022-"))
    assert len(problems) == 6
    assert all(p.title.endswith("（示例）") for p in problems)
    assert {p.status for p in problems} == set(ProblemStatus.values)
    assert any(p.escalated for p in problems)
    assert any(p.project is None and p.region is None for p in problems)
    assert (
        ProblemEvent.objects.filter(problem__in=problems, action=ProblemAction.EXTEND).count() == 1
    )
    # Dated relative to the load date, not the clock.
    assert max(p.raised_on for p in problems) == datetime.date(2026, 11, 18)
    state = sorted(Problem.objects.values_list("title", "status", "deadline", "version"))
    call_command("seed", "--today", "2026-11-30", "--skip-history", stdout=io.StringIO())
    assert sorted(Problem.objects.values_list("title", "status", "deadline", "version")) == state
    assert ProblemEvent.objects.filter(problem__in=problems).count() == 2 + 3 + 3 + 4 + 3 + 1


def test_seed_without_demo_accounts_adds_no_problems():
    from django.core.management import call_command

    call_command(
        "seed", "--today", "2026-11-30", "--skip-history", "--no-demo-users", stdout=io.StringIO()
    )
    assert not Problem.objects.exists()
