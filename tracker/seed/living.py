"""The living demo: illustrative signings for every year after 2022, up to the load date.

The 2022 book (projects.csv) stops at the 2022 signings, so on a load date years later
almost nothing is still under construction: the weekly sheet of a county is nearly empty,
and so are the current year's dashboard and monthly reports. For the local demo only
(``manage.py seed --living``, which ``make run`` passes; DEBUG only) this module adds, for
each year Y from 2023 to the load date's year, a county-by-county set of signings:

* How many: ``SIGNINGS[region]`` gives a (low, high) range per year [A] — about the 2022
  book's spread over the regions, flattened so that even the smallest zone has a sheet
  worth filling. Drawn from ``random.Random("<Y>-<region>")``: the year's whole list of a
  region depends on nothing else (not on the load date, not on the other regions), so a
  later load date only adds the signings between the two dates.
* What: a chain the region has (the chains' ``region_weights`` in reference.json), an
  amount in the 2022 book's bands (a few "5020" projects, mostly 1–20 亿元, some below
  1 亿元), planned start and production dates the way scripts/make_project_book.py plans
  them. Codes ``YC<Y>-0001 …`` in signing order over the whole year's list.
* Marked: every project and enterprise is ``is_sample`` (the pages' 示例 badge), names
  start with 示例 and the notes say 示例数据, as for the synthetic 2022 rows.
* History: the rows go through ``loader.load_book``, the 2022 book's own path, so they get
  the same generated stage changes, weekly dispatches, derived fields and annual plan
  (``tracker.seed.history``): some start late, some fall behind the pro-rata schedule, a few
  stall — red and yellow lights and late reports come from there, not from this module.

Nothing here touches a 2022 figure: every project is signed in 2023 or later.
"""

import calendar
import datetime
import random

from .history import last_full_week_end
from .loader import load_book, read_json
from .synthetic import (
    BILLION,
    CITY_LEADER,
    FOREIGN_CAP,
    MID_CAP,
    SAMPLE_NOTE,
    credit_code,
    working_day,
)

FIRST_YEAR = 2023
# Signings per region and year (low, high) [A]: the 2022 book has 46 in 宜春经开区 down to 4
# in 明月山; the living demo keeps that order but a floor, so that every county's weekly
# sheet has 10–40 projects on any load date (tests/test_seed_living.py measures it).
SIGNINGS = {
    "etdz": (12, 16),
    "yuanzhou": (10, 13),
    "zhangshu": (10, 13),
    "fengcheng": (10, 13),
    "gaoan": (10, 13),
    "shanggao": (9, 11),
    "fengxin": (9, 11),
    "yifeng": (9, 11),
    "wanzai": (9, 12),
    "jingan": (8, 10),
    "tonggu": (8, 10),
    "yiyang": (9, 11),
    "mingyueshan": (9, 11),
}
# Bands of the 2022 book (万元): "5020" (domestic, ≥ 20 亿元), 1–19 亿元, below 1 亿元.
DOMESTIC_5020 = 200_000
BANDS = (("big", 0.07), ("mid", 0.80), ("small", 0.13))
BUILD_MONTHS = {"big": (12, 22), "mid": (7, 14), "small": (5, 9)}
IN_PARK = 0.88


def _signing_days(year):
    """Mondays–Thursdays of ``year`` outside the Spring Festival week and National Day."""
    days = []
    for month in range(1, 13):
        for d in range(1, calendar.monthrange(year, month)[1] + 1):
            day = datetime.date(year, month, d)
            if day.weekday() > 3 or (month == 10 and d <= 7) or (month == 2 and d <= 7):
                continue
            days.append(day)
    return days


def _amount(rng, band, lithium):
    if band == "big":
        return DOMESTIC_5020 + 5_000 * min(40, int(rng.expovariate(1 / (8 if lithium else 5))))
    if band == "small":
        return rng.randrange(12, 99) * 100
    excess = BILLION * rng.lognormvariate(0.0 if lithium else -0.6, 1.0)
    return BILLION + min(MID_CAP - BILLION, int(excess) // 100 * 100)


def _region_year(year, region, chains, parks):
    """The whole year's signings of one region (independent of the load date)."""
    rng = random.Random(f"{year}-{region['code']}")
    low, high = SIGNINGS.get(region["code"], (7, 9))
    count = rng.randint(low, high)
    choices = [(c, c["region_weights"].get(region["code"], 0)) for c in chains]
    choices = [(c, w) for c, w in choices if w] or [(c, 1) for c in chains]
    days = _signing_days(year)
    items = []
    for n in range(count):
        # One signing in each of ``count`` equal stretches of the year: counties sign
        # steadily, so that the sheet does not swing with the luck of the draw.
        stretch = days[len(days) * n // count : len(days) * (n + 1) // count]
        chain = rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]
        band = rng.choices([b for b, _ in BANDS], weights=[w for _, w in BANDS])[0]
        amount = _amount(rng, band, chain["code"] == "lithium")
        signed_on = rng.choice(stretch)
        planned_start = working_day(signed_on + datetime.timedelta(days=rng.randint(45, 150)))
        planned_production = working_day(
            planned_start + datetime.timedelta(days=30 * rng.randint(*BUILD_MONTHS[band]))
        )
        capital = "domestic"
        roll = rng.random()
        if amount <= FOREIGN_CAP:
            capital = "foreign" if roll < 0.04 else "mixed" if roll < 0.09 else "domestic"
        in_park = region["code"] in parks and rng.random() < IN_PARK
        items.append(
            {
                "order": (signed_on, region["sort_order"], n),
                "band": band,
                "region": region,
                "chain": chain,
                "park": parks[region["code"]] if in_park else "",
                "capital_source": capital,
                "signed_on": signed_on,
                "signed_amount": amount,
                "planned_start_on": planned_start,
                "planned_production_on": planned_production,
                "product": rng.choice(chain["products"]),
                "word": rng.choice(chain["enterprise_words"]),
            }
        )
    return items


def living_rows(today):
    """Project rows (projects.csv's columns) for the years 2023 … ``today.year``, signed on
    or before the end of the last full ISO week before ``today`` (where history stops)."""
    reference = read_json("reference.json")
    chains = reference["chains"]
    parks = {p["region"]: p["name"] for p in reference["parks"]}
    until = last_full_week_end(today)
    rows = []
    for year in range(FIRST_YEAR, until.year + 1):
        items = []
        for region in reference["regions"]:
            items += _region_year(year, region, chains, parks)
        items.sort(key=lambda item: item["order"])
        for number, item in enumerate(items, start=1):
            if item["signed_on"] > until:
                break
            region = item["region"]
            rows.append(
                {
                    "code": f"YC{year}-{number:04d}",
                    "name": f"示例{item['product']}项目{year}-{number:03d}",
                    "is_sample": "1",
                    "enterprise": f"示例{item['word']}有限公司{year}-{number:03d}",
                    "enterprise_credit_code": credit_code(
                        region["admin_code"], year * 1000 + number
                    ),
                    "region": region["code"],
                    "park": item["park"],
                    "chain": item["chain"]["code"],
                    "capital_source": item["capital_source"],
                    "signed_on": item["signed_on"].isoformat(),
                    "signed_amount": str(item["signed_amount"]),
                    "planned_start_on": item["planned_start_on"].isoformat(),
                    "planned_production_on": item["planned_production_on"].isoformat(),
                    "responsible_leader": CITY_LEADER
                    if item["band"] == "big"
                    else region["responsible_leader"],
                    "responsible_unit": region["responsible_unit"],
                    "notes": SAMPLE_NOTE,
                }
            )
    return rows


def load_living(ref, *, today, with_history=True, summary):
    """Create (or extend the history of) the living demo's projects up to ``today``."""
    rows = living_rows(today)
    if rows:
        load_book(ref, today=today, with_history=with_history, summary=summary, rows=rows)
    return rows
