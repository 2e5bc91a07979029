"""The dashboard reads the stage history once: the headline figures and the regions' lights
come from one query grouped by region and light (issue 10), where two queries each joined
the stage and investment as of the day."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories as f
from tracker.choices import Stage
from tracker.dashboard import dashboard_data
from tracker.models import Project

pytestmark = pytest.mark.django_db

D = datetime.date


def test_headline_and_regions_are_one_query_over_the_history():
    region = f.region()
    f.project(region=region, signed_on=D(2022, 3, 1), history=[(Stage.STARTED, D(2022, 4, 1))])
    f.project(
        region=region,
        signed_on=D(2022, 3, 1),
        planned_start_on=D(2022, 4, 1),
        signed_amount=Decimal(300000),
    )
    f.project(
        region=f.region(), signed_on=D(2022, 5, 1), history=[(Stage.TERMINATED, D(2022, 6, 1))]
    )
    with CaptureQueriesContext(connection) as queries:
        data = dashboard_data(Project.objects.all(), year=2022, today=D(2026, 12, 4))
    history = [q for q in queries.captured_queries if "tracker_stagechange" in q["sql"]]
    assert len(history) == 1
    assert data["headline"]["count"] == 3 and data["headline"]["terminated"] == 1
    assert data["headline"]["amount"] == Decimal(400000)
    first, second = data["regions"]
    assert (first["count"], first["red"], first["green"], first["terminated"]) == (2, 1, 1, 0)
    assert (second["count"], second["green"], second["terminated"]) == (1, 0, 1)
