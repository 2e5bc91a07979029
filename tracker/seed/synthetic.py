"""What the generated project books share: the 2022 book's generator
(scripts/make_project_book.py, which writes fixtures/projects.csv) and the living demo's later
years (tracker/seed/living.py). Plain Python, no models, so the script can import it without
Django."""

import datetime

from tracker.validators import CREDIT_CODE_ALPHABET, credit_code_check_char

BILLION = 10_000  # 万元: 1 亿元
MID_CAP = 190_000  # the largest non-5020 project
FOREIGN_CAP = 100_000  # foreign / mixed capital only below this, far under the foreign tiers
SAMPLE_NOTE = "示例数据：非真实项目，仅用于演示。"
CITY_LEADER = "市政府分管副市长"


def working_day(day):
    """The first Monday–Thursday on or after ``day`` (signings and plans avoid weekends)."""
    while day.weekday() > 3:
        day += datetime.timedelta(days=1)
    return day


def credit_code(admin_code, number):
    """A synthetic but valid 统一社会信用代码: 91 + region + MA3 + 6 characters + check.

    ``number`` → code is a bijection on 0..31**6-1, so distinct numbers give distinct codes
    (the living demo uses ``year × 1000 + n``, which never meets the 2022 book's 1–338)."""
    n = (number * 7919 + 104_729) % 31**6
    body = "".join(CREDIT_CODE_ALPHABET[(n // 31**i) % 31] for i in reversed(range(6)))
    first17 = f"91{admin_code}MA3{body}"
    return first17 + credit_code_check_char(first17)
