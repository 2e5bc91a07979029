"""Login throttling on both login pages: a cool-off per account and per address, in the database.

No sleeping: the cool-off is passed by moving the stored attempt times back.
"""

import datetime

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.cache import caches
from django.db.models import F, Sum
from django.test import Client, override_settings
from django.urls import reverse

from tests import factories
from tracker.choices import Role

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
COOL_OFF = settings.AXES_COOLOFF_TIME
LOCKED = "此账号或此地址登录失败次数过多，已暂停登录"
WRONG = "Wrong-guess-2022"
HOME = {"login": "/", "admin:login": "/admin/"}


def test_the_configured_limits_are_five_guesses_and_fifteen_minutes():
    assert (LIMIT, COOL_OFF) == (5, datetime.timedelta(minutes=15))


class CountingHasher(MD5PasswordHasher):
    """The test suite's hasher, counting how often a password is hashed or checked."""

    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)

    def verify(self, password, encoded):
        type(self).calls += 1
        return super().verify(password, encoded)


@pytest.fixture
def counting_hasher():
    CountingHasher.calls = 0
    with override_settings(PASSWORD_HASHERS=["tests.test_login_throttle.CountingHasher"]):
        yield CountingHasher


@pytest.fixture
def staff():
    """A manager who may enter both the site and the admin."""
    return factories.user(Role.MANAGER, username="boss", is_staff=True)


def attempt(client, username, password, *, page="login", address="10.0.0.1"):
    """What each login page's form posts (the admin's carries ``next``)."""
    data = {"username": username, "password": password, "next": HOME[page]}
    return client.post(reverse(page), data, REMOTE_ADDR=address)


def logged_in(client):
    return "_auth_user_id" in client.session


def refused(response):
    return response.status_code == 429 and LOCKED in response.content.decode()


def pass_time(delta):
    """Every stored attempt happened ``delta`` earlier."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - delta)


@pytest.mark.parametrize("page", ["login", "admin:login"])
def test_wrong_guesses_lock_the_account_until_the_cool_off_has_passed(
    client, staff, counting_hasher, page
):
    for _ in range(LIMIT - 1):
        response = attempt(client, "boss", WRONG, page=page)
        assert response.status_code == 200 and not refused(response)
    assert refused(attempt(client, "boss", WRONG, page=page)), "the last allowed guess locks"

    counting_hasher.calls = 0
    response = attempt(client, "boss", factories.PASSWORD, page=page)
    assert refused(response) and not logged_in(client)
    assert counting_hasher.calls == 0, "a locked-out attempt must not even hash the password"
    page_text = response.content.decode()
    assert "15 分钟后再试" in page_text and 'name="password"' in page_text  # the login form
    assert f'name="next" value="{HOME[page]}"' in page_text

    pass_time(COOL_OFF - datetime.timedelta(minutes=1))
    assert refused(attempt(client, "boss", factories.PASSWORD, page=page))
    assert "1 分钟后再试" in attempt(client, "boss", WRONG, page=page).content.decode()

    pass_time(datetime.timedelta(minutes=1, seconds=1))
    response = attempt(client, "boss", factories.PASSWORD, page=page)
    assert response.status_code == 302 and response["Location"] == HOME[page]
    assert logged_in(client)


def test_guesses_below_the_limit_do_not_lock(client, staff):
    for _ in range(LIMIT - 1):
        attempt(client, "boss", WRONG)
    assert attempt(client, "boss", factories.PASSWORD).status_code == 302


def test_a_successful_login_forgives_the_own_mistakes_before_it(client, staff):
    for _ in range(2):
        for _ in range(LIMIT - 1):
            attempt(client, "boss", WRONG)
        assert attempt(client, "boss", factories.PASSWORD).status_code == 302
        client.post(reverse("logout"))
    assert not AccessAttempt.objects.exists()


def test_logging_in_to_ones_own_account_does_not_forgive_guesses_at_a_colleagues(staff):
    factories.user(Role.COUNTY, username="insider")
    insider = Client()
    for _ in range(LIMIT - 1):
        attempt(insider, "boss", WRONG, address="10.0.0.7")
    assert attempt(insider, "insider", factories.PASSWORD, address="10.0.0.7").status_code == 302
    assert refused(attempt(Client(), "boss", WRONG, address="10.0.0.7"))
    assert refused(attempt(Client(), "boss", factories.PASSWORD, address="10.9.9.9"))


def test_an_address_is_locked_for_every_username(staff):
    factories.user(Role.COUNTY, username="colleague")
    guesser = Client()
    for n in range(LIMIT):
        attempt(guesser, f"nobody{n}", WRONG, address="10.0.0.9")
    assert refused(attempt(Client(), "colleague", factories.PASSWORD, address="10.0.0.9"))
    # The same colleague from their own desk is not affected.
    response = attempt(Client(), "colleague", factories.PASSWORD, address="10.0.0.10")
    assert response.status_code == 302


def test_an_account_is_locked_from_every_address_but_not_for_good(staff):
    factories.user(Role.COUNTY, username="colleague")
    for n in range(LIMIT):
        attempt(Client(), "boss", WRONG, address=f"10.0.1.{n + 1}")
    # Accepted: the attacked account waits out the cool-off, wherever its owner is.
    assert refused(attempt(Client(), "boss", factories.PASSWORD, address="10.0.2.2"))
    # A colleague, even from one of the guessing addresses (one failure each), gets in.
    response = attempt(Client(), "colleague", factories.PASSWORD, address="10.0.1.1")
    assert response.status_code == 302
    pass_time(COOL_OFF)
    owner = Client()
    assert attempt(owner, "boss", factories.PASSWORD, address="10.0.2.2").status_code == 302
    assert logged_in(owner)


def test_trying_again_during_the_lock_does_not_lengthen_it(client, staff):
    for _ in range(LIMIT):
        attempt(client, "boss", WRONG)
    pass_time(datetime.timedelta(minutes=10))
    assert refused(attempt(client, "boss", factories.PASSWORD))
    assert refused(attempt(client, "boss", WRONG))
    pass_time(COOL_OFF - datetime.timedelta(minutes=10) + datetime.timedelta(seconds=1))
    assert attempt(client, "boss", factories.PASSWORD).status_code == 302


def test_the_count_is_kept_in_the_database_not_in_a_process(staff):
    for _ in range(LIMIT):
        attempt(Client(), "boss", WRONG)
    assert AccessAttempt.objects.aggregate(n=Sum("failures_since_start"))["n"] == LIMIT
    caches["default"].clear()  # nothing per-process is needed to remember the count
    assert refused(attempt(Client(), "boss", factories.PASSWORD))
    # The failures are logged for the admin; refused attempts are not failures.
    assert AccessFailureLog.objects.filter(username="boss").count() == LIMIT


def test_a_manager_lifts_a_lock_in_the_admin(admin_client, staff):
    for _ in range(LIMIT):
        attempt(Client(), "boss", WRONG)
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "登录失败计数" in page and "boss" in page
    row = AccessAttempt.objects.get(username="boss")
    response = admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert attempt(Client(), "boss", factories.PASSWORD).status_code == 302
    assert AccessLog.objects.filter(username="boss").exists()


# --- the address an attempt counts against -----------------------------------------------
def _addresses():
    return set(AccessAttempt.objects.values_list("ip_address", flat=True))


def test_without_a_proxy_a_forged_forwarded_for_header_is_ignored(staff):
    for n in range(LIMIT):
        Client().post(
            reverse("login"),
            {"username": "boss", "password": WRONG},
            REMOTE_ADDR="10.0.0.3",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    assert _addresses() == {"10.0.0.3"}


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_address_the_proxy_saw_counts():
    def guess(username, forwarded):
        return Client().post(
            reverse("login"),
            {"username": username, "password": WRONG},
            REMOTE_ADDR="10.0.0.254",  # the proxy
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    # What the client writes into the header itself stays on the left and changes nothing.
    for n in range(LIMIT - 1):
        guess(f"nobody{n}", f"192.0.2.{n}, 10.0.5.5")
    assert refused(guess("someone", "198.51.100.7, 10.0.5.5"))
    assert _addresses() == {"10.0.5.5"}
    AccessAttempt.objects.all().delete()
    guess("nobody", "not-an-address")  # garbage: the peer's address, never stored unchecked
    assert _addresses() == {"10.0.0.254"}
