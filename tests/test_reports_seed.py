"""The December 2022 monthly report on the seeded 2022 book: the published figures, on the
page and in the XLSX, with the query count and timing of the page (shown with ``-s``).

The seed is loaded once for the module (inside a transaction rolled back at the end).
"""

import io
import re
import time
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Q
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from openpyxl import load_workbook

from tests import factories
from tracker.choices import Role
from tracker.models import IndustryChain, Project
from tracker.reports.assembly import compute_report
from tracker.reports.publishing import publish_monthly_report
from tracker.spreadsheets import FIRST_DATA_ROW, HEADER_ROW

pytestmark = pytest.mark.django_db

LOAD_DAY = "2023-01-02"  # the earliest load date: the history runs to the end of 2022
PUBLISHED = {"ytd_count": 338, "ytd_amount_yi": "1796.1600", "ytd_5020": 41, "ytd_billion": 298}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(DEBUG=True):  # the generated history is loaded only with DEBUG
            call_command("seed", "--today", LOAD_DAY, "--no-demo-users", stdout=StringIO())
        yield SimpleNamespace()
        transaction.set_rollback(True)


def test_december_2022_has_the_published_year_figures(seeded):
    city = compute_report(year=2022, month=12)["city"]
    assert {key: city[key] for key in PUBLISHED} == PUBLISHED
    assert city["ytd_amount"] == "17961600.00"


def test_december_2022_page_shows_them_in_a_fixed_number_of_queries(seeded, client):
    client.force_login(factories.user(Role.MANAGER))
    url = reverse("tracker:monthly_report", kwargs={"month": "2022-12"})
    client.get(url)  # warm caches (content types, translations)
    started = time.monotonic()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    seconds = time.monotonic() - started
    print(f"\n2022-12 report page: {len(ctx)} queries, {seconds:.2f} s ({connection.vendor})")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="city-count">338<' in body
    assert 'id="city-amount">1,796.16<' in body
    assert 'id="city-amount-wan">17,961,600.00 万元<' in body
    assert 'id="city-5020">41<' in body
    assert 'id="city-billion">298<' in body
    assert len(ctx) <= 20


def test_december_2022_published_and_exported(seeded, client):
    manager = factories.user(Role.MANAGER)
    report = publish_monthly_report(year=2022, month=12, by=manager)
    assert {key: report.data["city"][key] for key in PUBLISHED} == PUBLISHED
    client.force_login(manager)
    url = reverse("tracker:monthly_report_version", kwargs={"month": "2022-12", "version": 1})
    started = time.monotonic()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"export": "xlsx"})
    print(f"\n2022-12 v1 XLSX: {len(ctx)} queries, {time.monotonic() - started:.2f} s")
    sheet = load_workbook(io.BytesIO(response.content))["县市区"]
    header = [c.value for c in sheet[HEADER_ROW]]
    total = [c.value for c in sheet[sheet.max_row]]
    cells = dict(zip(header, total, strict=True))
    assert cells["年累计签约项目数"] == 338
    assert cells["年累计签约金额(亿元)"] == 1796.16
    assert (cells["5020项目数"], cells["亿元以上项目数"]) == (41, 298)


# --- the red/yellow list in the reader's scope, on the seeded book ----------------------------
TEPAIYUAN_PROJECTS = [  # the demo commissioner's six projects (fixtures/demo_users.json)
    "YC2022-0034",
    "YC2022-0110",
    "YC2022-0170",
    "YC2022-0173",
    "YC2022-0279",
    "YC2022-0293",
]


def _readers():
    lithium = IndustryChain.objects.get(code="lithium")
    commissioner = factories.user(Role.COMMISSIONER)
    Project.objects.filter(code__in=TEPAIYUAN_PROJECTS).update(commissioner=commissioner)
    return {
        "lidian": (factories.user(Role.CHAIN_OFFICE, chain=lithium), Q(chain=lithium)),
        "tepaiyuan": (commissioner, Q(code__in=TEPAIYUAN_PROJECTS)),
    }


def _codes_on_page(body):
    section = re.search(r'id="report-warnings">.*?</section>', body, re.S).group(0)
    return set(re.findall(r"<strong>([^<]+)</strong>", section))


def _codes_in_xlsx(content):
    sheet = load_workbook(io.BytesIO(content))["红黄灯项目"]
    return {row[1] for row in sheet.iter_rows(min_row=FIRST_DATA_ROW, values_only=True) if row[1]}


@pytest.mark.parametrize("who", ["lidian", "tepaiyuan"])
def test_december_2022_lists_only_the_readers_red_and_yellow_projects(seeded, client, who):
    report = publish_monthly_report(year=2022, month=12, by=factories.user(Role.MANAGER))
    everyone = {w["code"] for w in report.data["warnings"]}
    user, own = _readers()[who]
    mine = everyone & set(Project.objects.filter(own).values_list("code", flat=True))
    client.force_login(user)
    for url in (
        reverse("tracker:monthly_report", kwargs={"month": "2022-12"}),
        reverse("tracker:monthly_report_version", kwargs={"month": "2022-12", "version": 1}),
    ):
        body = client.get(url).content.decode()
        assert _codes_on_page(body) == mine
        assert 'id="warnings-hidden"' in body
        hidden = re.search(r"id=\"warnings-hidden\">([^<]*)<", body).group(1)
        assert re.match(rf"\D*{len(everyone - mine)}\D", hidden), hidden  # the number left out
        assert _codes_in_xlsx(client.get(url, {"export": "xlsx"}).content) == mine
