"""Sessions (OWASP ASVS L2 V3): a new key at login, 30 minutes idle, 12 hours in all, and
logout or a password change ends them. No sleeping: the stored stamps are moved back."""

import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tracker.choices import Role
from tracker.sessions import LOGGED_IN_AT, REFRESH_SECONDS, SEEN_AT

pytestmark = pytest.mark.django_db

IDLE = settings.SESSION_IDLE_SECONDS
MAX = settings.SESSION_MAX_SECONDS
EXPIRED = "登录已超时，请重新登录。"


def test_the_configured_limits_are_thirty_minutes_idle_and_twelve_hours_in_all():
    assert (IDLE, MAX) == (30 * 60, 12 * 60 * 60)
    assert settings.SESSION_COOKIE_AGE == MAX


@pytest.fixture
def user():
    return factories.user(Role.MANAGER, username="boss")


def log_in(client):
    response = client.post(
        reverse("login"), {"username": "boss", "password": factories.PASSWORD, "next": "/"}
    )
    assert response.status_code == 302
    return response


def move_back(client, **seconds):
    """Pretend the stamps named in ``seconds`` were written that many seconds earlier."""
    session = client.session
    for key, delta in seconds.items():
        session[key] -= delta
    session.save()


def age(client, **seconds):
    """Set the stamps named in ``seconds`` to that many seconds before now (not before the
    login: a loaded machine may take seconds between the login and the next request)."""
    session = client.session
    now = int(timezone.now().timestamp())
    for key, delta in seconds.items():
        session[key] = now - delta
    session.save()


# "Just inside" a limit is this many seconds before it: more than a slow request takes.
MARGIN = 10


def is_in(client):
    response = client.get(reverse("tracker:home"))
    return response.status_code == 200


def _row(client):
    return Session.objects.get(session_key=client.session.session_key)


def test_logging_in_gives_a_new_session_key(client, user):
    client.get(reverse("login"))
    anonymous = client.session
    anonymous["probe"] = 1  # an anonymous session with a key an attacker might have planted
    anonymous.save()
    planted = anonymous.session_key
    log_in(client)
    assert client.session.session_key != planted
    assert not Session.objects.filter(session_key=planted).exists()


def test_any_login_starts_the_clock_and_the_next_request_writes_nothing(client, user):
    client.force_login(user)  # no login page: Django's login() all the same
    now = int(timezone.now().timestamp())
    assert now - 5 <= client.session[LOGGED_IN_AT] == client.session[SEEN_AT] <= now
    with CaptureQueriesContext(connection) as queries:
        assert is_in(client)
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]


def test_a_password_change_does_not_restart_the_twelve_hours(client, user):
    log_in(client)
    move_back(client, **{LOGGED_IN_AT: 3600})
    logged_in_at = client.session[LOGGED_IN_AT]
    new = "Qx7-kp2!vLm9"
    response = client.post(
        reverse("password_change"),
        {"old_password": factories.PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert client.session[LOGGED_IN_AT] == logged_in_at


def test_a_session_ends_after_thirty_minutes_idle(client, user):
    log_in(client)
    age(client, **{SEEN_AT: IDLE - MARGIN, LOGGED_IN_AT: IDLE - MARGIN})
    assert is_in(client)
    age(client, **{SEEN_AT: IDLE, LOGGED_IN_AT: IDLE})
    key = client.session.session_key
    response = client.get(reverse("tracker:project_list"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=" + reverse("tracker:project_list")
    assert not Session.objects.filter(session_key=key).exists()
    page = client.get(response["Location"]).content.decode()
    assert EXPIRED in page


def test_a_session_ends_after_twelve_hours_however_busy(client, user):
    log_in(client)
    age(client, **{LOGGED_IN_AT: MAX - MARGIN})
    assert is_in(client)
    age(client, **{LOGGED_IN_AT: MAX})
    assert not is_in(client)


def test_the_admin_obeys_the_same_limits(client):
    factories.user(Role.MANAGER, username="boss", is_staff=True)
    log_in(client)
    assert client.get(reverse("admin:index")).status_code == 200
    move_back(client, **{SEEN_AT: IDLE})
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session


@override_settings(SESSION_IDLE_SECONDS=120)
def test_the_idle_limit_is_a_setting(client, user):
    log_in(client)
    age(client, **{SEEN_AT: 120 - MARGIN})
    assert is_in(client)
    age(client, **{SEEN_AT: 120})
    assert not is_in(client)


def test_the_activity_stamp_is_written_at_most_once_a_minute(client, user):
    assert REFRESH_SECONDS == 60
    log_in(client)
    age(client, **{SEEN_AT: REFRESH_SECONDS - MARGIN})
    before = client.session[SEEN_AT]
    with CaptureQueriesContext(connection) as queries:
        assert is_in(client)
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert client.session[SEEN_AT] == before

    age(client, **{SEEN_AT: REFRESH_SECONDS + 5})
    start = int(timezone.now().timestamp())
    assert is_in(client)
    end = int(timezone.now().timestamp())
    assert start <= client.session[SEEN_AT] <= end  # bounds measured, so a slow machine passes


def test_the_database_row_and_the_cookie_expire_with_the_idle_limit(client, user):
    start = timezone.now().timestamp()
    response = log_in(client)
    took = timezone.now().timestamp() - start
    max_age = int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"])
    # a truncated stamp and a floored age: each up to 1 s, besides the time the login took
    assert IDLE - took - 2 < max_age <= IDLE
    seen = datetime.datetime.fromtimestamp(client.session[SEEN_AT], tz=datetime.UTC)
    assert _row(client).expire_date == seen + datetime.timedelta(seconds=IDLE)


def test_near_the_twelve_hours_the_row_and_the_cookie_expire_with_them(client, user):
    start = timezone.now().timestamp()
    log_in(client)
    move_back(client, **{LOGGED_IN_AT: MAX - 600, SEEN_AT: 61})
    response = client.get(reverse("tracker:home"))
    took = timezone.now().timestamp() - start
    assert response.status_code == 200
    logged_in_at = client.session[LOGGED_IN_AT]
    ends = datetime.datetime.fromtimestamp(logged_in_at + MAX, tz=datetime.UTC)
    assert _row(client).expire_date == ends
    max_age = int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"])
    # 600 s were left at login. The login stamp is truncated to a whole second (up to 1 s
    # early) and Django floors the remaining age to whole seconds (up to 1 s more), so the
    # cookie may say up to 2 s less than the time the requests took.
    assert 600 - took - 2 < max_age <= 600


def test_logging_out_ends_the_session_and_its_cookie_is_refused_afterwards(client, user):
    log_in(client)
    old_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post(reverse("logout")).status_code == 302
    assert not Session.objects.filter(session_key=old_cookie).exists()
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_cookie
    response = replay.get(reverse("tracker:home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(user):
    here, elsewhere = Client(), Client()
    log_in(here)
    log_in(elsewhere)
    new = "Qx7-kp2!vLm9"
    response = here.post(
        reverse("password_change"),
        {"old_password": factories.PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert is_in(here)
    assert not is_in(elsewhere)
    assert "_auth_user_id" not in elsewhere.session
