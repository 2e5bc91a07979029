"""/chains/ and /chains/<id>/: leaders, lead unit, anchors, totals, problem ledger, scope."""

import datetime
import re
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories as f
from tracker.choices import ChainLeaderPosition, ProblemStatus, Role
from tracker.models import ChainLeader, IndustryChain, Problem, Project
from tracker.views.dashboard import CHAIN_PROJECT_LIMIT

pytestmark = pytest.mark.django_db

D = datetime.date
LIST = "/chains/"


def detail(chain):
    return reverse("tracker:chain_detail", kwargs={"pk": chain.pk})


def problem(chain, *, status=ProblemStatus.RAISED, project=None, raised_on=None, **kw):
    today = timezone.localdate()
    raised_on = raised_on or today - datetime.timedelta(days=30)
    kw.setdefault("title", f"问题{next(f._seq)}")
    kw.setdefault("raised_by", f.user(Role.MANAGER))
    if status != ProblemStatus.RAISED:
        kw.setdefault("assigned_unit", "市工信局")
        kw.setdefault("deadline", raised_on + datetime.timedelta(days=10))
    if status in (ProblemStatus.RESOLVED, ProblemStatus.CLOSED):
        kw.setdefault("resolved_on", today)
    if status == ProblemStatus.CLOSED:
        kw.setdefault("closed_on", today)
    region = project.region if project else kw.pop("region", None)
    return Problem.objects.create(
        chain=chain, project=project, region=region, status=status, raised_on=raised_on, **kw
    )


@pytest.fixture
def en(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- the seeded chains -------------------------------------------------------------------


@pytest.fixture(scope="class")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed", "--today", "2023-01-02", "--no-demo-users", stdout=StringIO())
        yield
        transaction.set_rollback(True)


class TestSeededChains:
    def test_the_ten_chains_with_leaders_lead_unit_anchors_and_totals(self, seeded, client):
        client.force_login(f.user(Role.MANAGER))
        response = client.get(LIST)
        chains = response.context["chains"]
        assert [c.name for c in chains][:4] == [
            "锂电新能源",
            "生物医药",
            "电子信息",
            "先进装备制造",
        ]
        assert len(chains) == 10
        lithium = chains[0]
        assert lithium.lead_unit == "市工信局"
        assert lithium.anchor_count == lithium.anchor_enterprises.count() == 5
        assert lithium.project_count == Project.objects.filter(chain=lithium).count()
        assert sum(c.project_count for c in chains) == Project.objects.count()
        totals = response.context["totals"]
        assert totals["projects"] == Project.objects.count()
        body = response.content.decode()
        row = re.search(rf'data-chain="{lithium.pk}">(.*?)</tr>', body, re.S).group(1)
        assert row.index("市委书记") < row.index("市政府分管副市长")  # 链长 before 副链长

    def test_chain_page_totals_match_the_book(self, seeded, client):
        client.force_login(f.user(Role.MANAGER))
        lithium = IndustryChain.objects.get(is_leading=True)
        response = client.get(detail(lithium))
        assert response.status_code == 200
        totals = response.context["totals"]
        book = Project.objects.filter(chain=lithium)
        assert totals == book.totals()
        yi = (totals["amount"] / 10000).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert f'id="tot-amount">{yi:,f}<' in response.content.decode()
        assert len(response.context["projects"]) == min(CHAIN_PROJECT_LIMIT, totals["count"])
        assert response.context["more_projects"] == totals["count"] - CHAIN_PROJECT_LIMIT
        amounts = [p.signed_amount for p in response.context["projects"]]
        assert amounts == sorted(amounts, reverse=True)
        leaders = response.context["leaders"]
        positions = [leader.position for leader in leaders]
        assert positions == sorted(positions, key=lambda p: p != ChainLeaderPosition.LEADER)
        assert len(leaders) == ChainLeader.objects.filter(chain=lithium).count()
        body = response.content.decode()
        assert f'href="/projects/?chain={lithium.pk}"' in body


# --- scope ---------------------------------------------------------------------------------


@pytest.fixture
def world():
    a, b = f.chain(name="甲链", sort_order=1), f.chain(name="乙链", sort_order=2)
    ra, rb = f.region(name="甲县"), f.region(name="乙县")
    commissioner = f.user(Role.COMMISSIONER)
    mine = f.project(chain=a, region=ra, name="特派项目", commissioner=commissioner)
    other = f.project(chain=a, region=rb, name="别人的项目", signed_amount=Decimal("300000"))
    f.project(chain=b, region=rb, name="乙链项目")
    return {"a": a, "b": b, "ra": ra, "rb": rb, "mine": mine, "other": other, "c": commissioner}


def test_chain_office_sees_only_its_own_chain(client, world):
    client.force_login(f.user(Role.CHAIN_OFFICE, chain=world["a"]))
    assert [c.name for c in client.get(LIST).context["chains"]] == ["甲链"]
    assert client.get(detail(world["a"])).status_code == 200
    assert client.get(detail(world["b"])).status_code == 404


def test_unknown_chain_is_404(client, world):
    client.force_login(f.user(Role.MANAGER))
    assert client.get(reverse("tracker:chain_detail", kwargs={"pk": 987654})).status_code == 404


def test_commissioner_sees_all_chains_but_only_their_projects(client, world):
    client.force_login(world["c"])
    chains = client.get(LIST).context["chains"]
    assert [(c.name, c.project_count) for c in chains] == [("甲链", 1), ("乙链", 0)]
    response = client.get(detail(world["a"]))
    assert response.status_code == 200
    assert response.context["totals"]["count"] == 1
    body = response.content.decode()
    assert "特派项目" in body and "别人的项目" not in body


def test_county_staff_and_managers_see_all_chains_and_projects(client, world):
    for user in (f.user(Role.COUNTY, region=world["ra"]), f.user(Role.MANAGER)):
        client.force_login(user)
        chains = client.get(LIST).context["chains"]
        assert [(c.name, c.project_count) for c in chains] == [("甲链", 2), ("乙链", 1)]
        page = client.get(detail(world["a"]))
        totals = page.context["totals"]
        assert (totals["count"], totals["amount"], totals["count_5020"]) == (
            2,
            Decimal("350000"),
            1,
        )
        assert 'id="tot-amount">35.00<' in page.content.decode()


def test_a_user_without_a_role_sees_no_chain(client, world):
    client.force_login(f.user(role=""))
    assert list(client.get(LIST).context["chains"]) == []
    assert client.get(detail(world["a"])).status_code == 404


# --- the problem ledger ----------------------------------------------------------------------


def test_open_problems_are_counted_per_chain_in_the_users_scope(client, world):
    a, b = world["a"], world["b"]
    problem(a, project=world["mine"])  # raised, region 甲县
    problem(a, project=world["other"], status=ProblemStatus.ASSIGNED)  # 乙县
    problem(a, status=ProblemStatus.RESOLVED)
    problem(a, status=ProblemStatus.CLOSED)
    problem(b, project=Project.objects.get(name="乙链项目"))
    client.force_login(f.user(Role.MANAGER))
    counts = {c.name: c.open_problems for c in client.get(LIST).context["chains"]}
    assert counts == {"甲链": 2, "乙链": 1}
    client.force_login(f.user(Role.COUNTY, region=world["ra"]))
    counts = {c.name: c.open_problems for c in client.get(LIST).context["chains"]}
    assert counts == {"甲链": 1, "乙链": 0}
    client.force_login(f.user(Role.CHAIN_OFFICE, chain=a))
    counts = {c.name: c.open_problems for c in client.get(LIST).context["chains"]}
    assert counts == {"甲链": 2}


def test_chain_ledger_is_newest_first_with_status_deadline_and_overdue(en, world):
    a = world["a"]
    today = timezone.localdate()
    old = problem(
        a,
        status=ProblemStatus.ASSIGNED,
        raised_on=today - datetime.timedelta(days=60),
        deadline=today - datetime.timedelta(days=1),
        title="逾期问题",
    )
    due = problem(
        a,
        status=ProblemStatus.ASSIGNED,
        raised_on=today - datetime.timedelta(days=5),
        deadline=today,
        title="今日到期",
    )
    done = problem(
        a,
        status=ProblemStatus.RESOLVED,
        raised_on=today - datetime.timedelta(days=40),
        deadline=today - datetime.timedelta(days=20),
        title="已解决",
    )
    problem(world["b"], title="别链问题")
    en.force_login(f.user(Role.MANAGER))
    response = en.get(detail(a))
    listed = response.context["problems"]
    assert [p.title for p in listed] == ["今日到期", "已解决", "逾期问题"]
    assert {p.pk: p.is_overdue for p in listed} == {old.pk: True, due.pk: False, done.pk: False}
    assert response.context["problem_counts"] == {"total": 3, "open": 2, "overdue": 1}
    body = response.content.decode()
    assert "别链问题" not in body
    row = re.search(rf'data-problem="{old.pk}" class="is-overdue">(.*?)</tr>', body, re.S)
    assert row and "overdue" in row.group(1) and "assigned" in row.group(1)
    assert (today - datetime.timedelta(days=1)).isoformat() in row.group(1)


def test_chain_page_links_to_the_problem_ledger_filtered_by_chain(client, world):
    client.force_login(f.user(Role.MANAGER))
    url = client.get(detail(world["a"])).context["problems_url"]
    try:
        base = reverse("tracker:problem_list")
    except Exception:  # the ledger pages belong to another module
        assert url is None
    else:
        assert url == f"{base}?chain={world['a'].pk}"


# --- query counts ----------------------------------------------------------------------------


def grow(chain, region, n):
    user = f.user(Role.MANAGER)
    for _ in range(n):
        p = f.project(chain=chain, region=region)
        problem(chain, project=p, raised_by=user)
        problem(chain, project=p, raised_by=user, status=ProblemStatus.ASSIGNED)
        chain.anchor_enterprises.add(p.enterprise)
        ChainLeader.objects.create(
            chain=chain, position=ChainLeaderPosition.DEPUTY, title=f"副职{p.pk}"
        )


@pytest.mark.parametrize(("page", "most"), [("list", 4), ("detail", 10)])
def test_query_count_does_not_grow_with_projects_problems_or_leaders(client, page, most):
    chains = [f.chain(), f.chain()]
    region = f.region()
    client.force_login(f.user(Role.MANAGER))
    counts = []
    for n in (5, 45):
        for chain in chains:
            grow(chain, region, n)
        url = LIST if page == "list" else detail(chains[0])
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    # list: session, user, chains with rollups, leaders; detail adds anchors (+ regions),
    # totals, projects, problems and problem counts
    assert counts[0] <= most
