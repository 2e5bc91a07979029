"""月通报 page: the first red projects of the red/yellow list are read from the regions that
hold them (issue 10): the same rows, in the same order, as the first rows of the whole list,
and the same total."""

import datetime

import pytest

from tests import factories as f
from tracker.choices import Role
from tracker.reports.assembly import compute_report

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def lit():
    """As of 31 December 2022: red when the planned start is before 2 October (90 days),
    yellow when before 1 December (30). Region "b" sorts first."""
    a, b, c = f.region(sort_order=2), f.region(sort_order=1), f.region(sort_order=3)
    for region, plans in (
        (a, [D(2022, 3, 1), D(2022, 11, 1), D(2022, 4, 1)]),
        (b, [D(2022, 5, 1), D(2022, 6, 1)]),
        (c, [D(2022, 2, 1), D(2022, 12, 20)]),
    ):
        for planned in plans:
            f.project(region=region, signed_on=D(2022, 1, 10), planned_start_on=planned)
    return f.user(Role.MANAGER)


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 6, 7])
def test_the_page_lists_the_first_rows_of_the_whole_list(lit, limit):
    everything = compute_report(year=2022, month=12)["warnings"]
    assert [w["light"] for w in everything] == ["red"] * 5 + ["yellow"]
    page = compute_report(year=2022, month=12, warnings_user=lit, warnings_limit=limit)
    assert page["warnings"] == everything[:limit]
    assert (page["warnings_total"], page["warnings_outside"]) == (6, 0)
