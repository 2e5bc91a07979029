"""The seed: reference data, the 2022 project book with its history, indicators, demo users.

``manage.py seed`` is the entry point; fixtures/README.md says what is real and what is
illustrative (示例数据).
"""

import datetime

# The 2022 book needs its whole year of history: the last full ISO week of 2022 ends on
# 1 January 2023, so the load date must be after it.
EARLIEST_LOAD_DATE = datetime.date(2023, 1, 2)


def load(*, today, with_history=True, demo_users=True, living=False):
    """Load everything (inside the caller's transaction); returns (summary, demo users).

    ``living``: also the demo's illustrative signings of 2023 … ``today`` (``.living``).
    """
    from .demo import ensure_demo_users
    from .living import load_living
    from .loader import Summary, load_book, load_indicators, load_reference
    from .roles import ensure_role_groups

    summary = Summary()
    ref = load_reference(summary)
    load_indicators(summary)
    load_book(ref, today=today, with_history=with_history, summary=summary)
    if living:
        load_living(ref, today=today, with_history=with_history, summary=summary)
    groups = ensure_role_groups()
    users = []
    if demo_users:
        users = ensure_demo_users(ref, {g.name: g for g in groups.values()}, summary)
    return summary, users
