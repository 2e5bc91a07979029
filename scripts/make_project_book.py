"""Write fixtures/projects.csv: the 2022 project book (plus the 2021 anchor projects).

Run once, review the diff, commit the CSV: ``.venv/bin/python scripts/make_project_book.py``.
The output is deterministic (a fixed random.Random seed, no clock), so running it again
gives the same file; ``tests/test_seed.py`` checks that.

The book reproduces the published 2022 figures exactly (fixtures/README.md has the
arithmetic): 338 projects signed in 2022, 17,961,600 万元 in total, 41 "5020" projects
(domestic, ≥ 200,000 万元) and 298 projects of ≥ 10,000 万元 (the 41 included). The publicly
reported projects come from fixtures/real_projects.json; every other row is synthetic,
named 示例…, and marked is_sample.
"""

import calendar
import csv
import datetime
import json
import random
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.seed.synthetic import (  # noqa: E402
    BILLION,
    CITY_LEADER,
    FOREIGN_CAP,
    MID_CAP,
    SAMPLE_NOTE,
    credit_code,
    working_day,
)

FIXTURES = ROOT / "fixtures"
OUTPUT = FIXTURES / "projects.csv"
SEED = 2022
YEAR = 2022

# The published 2022 figures (DOMAIN.md, [C]).
TARGET_COUNT = 338
TARGET_AMOUNT = 17_961_600  # 万元 = 1796.16 亿元
TARGET_5020 = 41
TARGET_BILLION = 298

# Thresholds in 万元 (settings.TRACKER defaults). Synthetic amounts keep clear of every
# boundary so that the figures do not move if a threshold is configured slightly differently.
DOMESTIC_5020 = 200_000

# How the synthetic rows spread over the chains: (5020, 1–20 亿元, < 1 亿元) per chain.
# With the one real 2022 project (比亚迪, lithium) this gives 41 / 257 / 40.
CHAIN_MIX = {
    "lithium": (22, 58, 2),
    "biomedicine": (2, 28, 4),
    "electronics": (4, 34, 5),
    "equipment": (4, 36, 5),
    "building-materials": (2, 26, 4),
    "green-food": (1, 24, 8),
    "textiles": (0, 16, 6),
    "medical-devices": (0, 12, 3),
    "energy-saving": (2, 10, 2),
    "new-materials": (3, 13, 1),
}
# Signings per month of 2022 (the real projects included); every month has some.
MONTHS = [20, 18, 35, 25, 30, 35, 28, 30, 35, 28, 30, 24]
# No signing ceremonies in the Spring Festival and National Day holidays of 2022.
HOLIDAYS = [
    (datetime.date(2022, 1, 31), datetime.date(2022, 2, 6)),
    (datetime.date(2022, 10, 1), datetime.date(2022, 10, 7)),
]

COLUMNS = [
    "code",
    "name",
    "is_sample",
    "enterprise",
    "enterprise_credit_code",
    "region",
    "park",
    "chain",
    "capital_source",
    "signed_on",
    "signed_amount",
    "planned_start_on",
    "planned_production_on",
    "responsible_leader",
    "responsible_unit",
    "notes",
]


def signing_days(month):
    days = []
    for d in range(1, calendar.monthrange(YEAR, month)[1] + 1):
        day = datetime.date(YEAR, month, d)
        if day.weekday() <= 3 and not any(a <= day <= b for a, b in HOLIDAYS):
            days.append(day)
    return days


def draw_amounts(rng, real_2022):
    """Amounts per (chain, band), scaled so that the total is exactly TARGET_AMOUNT.

    5020 projects: 20 亿元 plus an exponential tail in steps of 0.5 亿元. 1–20 亿元 projects:
    1 亿元 plus a log-normal excess (many just above 1 亿, a tail towards 19 亿), scaled to
    the amount that is left. Under 1 亿元: 0.12–0.98 亿元. All in multiples of 100 万元.
    Lithium (锂电新能源, the 首位产业) draws from wider distributions.
    """
    big, mid, small = [], [], []
    for chain, (n_big, n_mid, n_small) in CHAIN_MIX.items():
        lithium = chain == "lithium"  # the 首位产业 draws larger projects
        big += [
            (
                chain,
                DOMESTIC_5020 + 5_000 * min(60, int(rng.expovariate(1 / (9 if lithium else 6)))),
            )
            for _ in range(n_big)
        ]
        mu = 0.2 if lithium else -0.4
        mid += [(chain, BILLION * rng.lognormvariate(mu, 1.1)) for _ in range(n_mid)]
        small += [(chain, rng.randrange(12, 99) * 100) for _ in range(n_small)]
    fixed = sum(real_2022) + sum(a for _, a in big) + sum(a for _, a in small)
    need = TARGET_AMOUNT - fixed - BILLION * len(mid)  # what the mid band has above 1 亿
    drawn = sum(a for _, a in mid)
    if need <= 0:
        raise SystemExit("infeasible draw: change SEED")
    scaled = [(c, min(MID_CAP - BILLION, int(a * need / drawn) // 100 * 100)) for c, a in mid]
    residual = need - sum(a for _, a in scaled)
    order = sorted(range(len(scaled)), key=lambda i: -scaled[i][1])
    i = 0
    while residual > 0:  # hand out the rounding rest 100 万元 at a time to the larger projects
        c, a = scaled[order[i % len(order)]]
        step = min(residual, 100, MID_CAP - BILLION - a)
        scaled[order[i % len(order)]] = (c, a + step)
        residual -= step
        i += 1
    mid = [(c, BILLION + a) for c, a in scaled]
    return big, mid, small


def make_rows():
    reference = json.loads((FIXTURES / "reference.json").read_text(encoding="utf-8"))
    real = json.loads((FIXTURES / "real_projects.json").read_text(encoding="utf-8"))["projects"]
    regions = {r["code"]: r for r in reference["regions"]}
    chains = {c["code"]: c for c in reference["chains"]}
    parks = {p["region"]: p["name"] for p in reference["parks"]}
    rng = random.Random(SEED)

    real_2022 = [p for p in real if p["signed_on"].startswith(str(YEAR))]
    big, mid, small = draw_amounts(rng, [int(p["signed_amount"]) for p in real_2022])

    months = []
    for month, count in enumerate(MONTHS, start=1):
        count -= sum(1 for p in real_2022 if int(p["signed_on"][5:7]) == month)
        months += [month] * count
    rng.shuffle(months)

    synthetic = []
    bands = [("big", big), ("mid", mid), ("small", small)]
    for band, items in bands:
        for chain_code, amount in items:
            chain = chains[chain_code]
            weights = chain["region_weights"]
            region = rng.choices(list(weights), weights=list(weights.values()))[0]
            month = months.pop()
            signed_on = rng.choice(signing_days(month))
            build_months = {"big": (12, 22), "mid": (7, 14), "small": (5, 9)}[band]
            planned_start = working_day(signed_on + datetime.timedelta(days=rng.randint(45, 150)))
            planned_production = working_day(
                planned_start + datetime.timedelta(days=30 * rng.randint(*build_months))
            )
            capital = "domestic"
            if amount <= FOREIGN_CAP:
                r = rng.random()
                capital = "foreign" if r < 0.04 else "mixed" if r < 0.09 else "domestic"
            in_park = region in parks and rng.random() < 0.88
            synthetic.append(
                {
                    "band": band,
                    "chain": chain_code,
                    "region": region,
                    "park": parks[region] if in_park else "",
                    "capital_source": capital,
                    "signed_on": signed_on,
                    "signed_amount": amount,
                    "planned_start_on": planned_start,
                    "planned_production_on": planned_production,
                    "product": rng.choice(chain["products"]),
                    "word": rng.choice(chain["enterprise_words"]),
                    "tiebreak": rng.random(),
                }
            )
    for p in real_2022:
        synthetic.append({"real": p, "signed_on": datetime.date.fromisoformat(p["signed_on"])})
        synthetic[-1]["tiebreak"] = rng.random()

    rows = [real_row(p) for p in real if not p["signed_on"].startswith(str(YEAR))]
    book = sorted(synthetic, key=lambda r: (r["signed_on"], r["tiebreak"]))
    for number, item in enumerate(book, start=1):
        code = f"YC{YEAR}-{number:04d}"
        if "real" in item:
            rows.append(real_row(item["real"], code=code))
            continue
        region = regions[item["region"]]
        rows.append(
            {
                "code": code,
                "name": f"示例{item['product']}项目{number:03d}",
                "is_sample": "1",
                "enterprise": f"示例{item['word']}有限公司{number:03d}",
                "enterprise_credit_code": credit_code(region["admin_code"], number),
                "region": item["region"],
                "park": item["park"],
                "chain": item["chain"],
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
    check(rows, regions)
    return rows


def real_row(p, code=None):
    return {
        "code": code or p["code"],
        "name": p["name"],
        "is_sample": "0",
        "enterprise": p["enterprise"],
        "enterprise_credit_code": "",
        "region": p["region"],
        "park": p["park"],
        "chain": p["chain"],
        "capital_source": "domestic",
        "signed_on": p["signed_on"],
        "signed_amount": p["signed_amount"],
        "planned_start_on": p["planned_start_on"],
        "planned_production_on": p["planned_production_on"],
        "responsible_leader": CITY_LEADER,
        "responsible_unit": "市工信局",
        "notes": p["notes"],
    }


def check(rows, regions):
    book = [r for r in rows if r["signed_on"].startswith(str(YEAR))]
    amounts = [Decimal(r["signed_amount"]) for r in book]
    tiers = [
        a >= DOMESTIC_5020 and r["capital_source"] == "domestic"
        for a, r in zip(amounts, book, strict=True)
    ]
    assert len(book) == TARGET_COUNT, len(book)
    assert sum(amounts) == TARGET_AMOUNT, sum(amounts)
    assert sum(tiers) == TARGET_5020, sum(tiers)
    assert sum(1 for a in amounts if a >= BILLION) == TARGET_BILLION
    assert all(
        Decimal(r["signed_amount"]) <= FOREIGN_CAP
        for r in book
        if r["capital_source"] != "domestic"
    )
    assert not any(MID_CAP < a < DOMESTIC_5020 for a in amounts)
    assert {r["region"] for r in book} == set(regions), "every region needs projects"
    codes = [r["enterprise_credit_code"] for r in rows if r["enterprise_credit_code"]]
    assert len(codes) == len(set(codes))
    samples = [r["enterprise"] for r in rows if r["is_sample"] == "1"]
    assert len(samples) == len(set(samples)), "one synthetic enterprise per project"
    for r in rows:
        assert r["signed_on"] <= r["planned_start_on"] <= r["planned_production_on"], r


def summary(rows):
    book = [r for r in rows if r["signed_on"].startswith(str(YEAR))]
    total = sum(Decimal(r["signed_amount"]) for r in book)
    by_chain = {}
    for r in book:
        by_chain[r["chain"]] = by_chain.get(r["chain"], 0) + Decimal(r["signed_amount"])
    lines = [f"{len(book)} projects, {total / 10000} 亿元"]
    for chain, amount in sorted(by_chain.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {chain:20} {amount / 10000:>9} 亿元  {100 * amount / total:5.1f} %")
    return "\n".join(lines)


def main():
    rows = make_rows()
    with OUTPUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {summary(rows)}")


if __name__ == "__main__":
    main()
