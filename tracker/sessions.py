"""Sessions end after a time idle and after a time in all (OWASP ASVS 3.3.2).

Two stamps live in the session: when the user logged in, written by ``stamp_login`` (a
receiver of Django's ``user_logged_in``, connected in ``TrackerConfig.ready``: ``login()``
offers no other hook, and so every way in — the login page, the admin's, a test's
``force_login`` — is covered), and the last recorded request. ``SessionLimitsMiddleware``
logs out a session past ``SESSION_IDLE_SECONDS`` since that request or
``SESSION_MAX_SECONDS`` since the login and sends it to the login page with a message. The
last-request stamp is rewritten at most once every ``REFRESH_SECONDS``, not on every
request; each write also moves the session's expiry (its database row and its cookie) to
the earlier of the two limits, so neither outlives the session.
"""

import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.utils import timezone
from django.utils.translation import gettext as _

LOGGED_IN_AT = "tracker_logged_in_at"
SEEN_AT = "tracker_seen_at"
REFRESH_SECONDS = 60


def _now():
    return int(timezone.now().timestamp())


def _stamp(session, *, logged_in_at, seen_at):
    session[LOGGED_IN_AT] = logged_in_at
    session[SEEN_AT] = seen_at
    ends = min(seen_at + settings.SESSION_IDLE_SECONDS, logged_in_at + settings.SESSION_MAX_SECONDS)
    session.set_expiry(datetime.datetime.fromtimestamp(ends, tz=datetime.UTC))


def stamp_login(sender, request, user, **kwargs):
    """``user_logged_in`` receiver: the session's time starts now."""
    now = _now()
    _stamp(request.session, logged_in_at=now, seen_at=now)


def has_expired(session, now):
    """Whether a logged-in session is past its idle or its total limit at ``now``."""
    logged_in_at, seen_at = session.get(LOGGED_IN_AT), session.get(SEEN_AT)
    if logged_in_at is None or seen_at is None:
        return False
    return (
        now - seen_at >= settings.SESSION_IDLE_SECONDS
        or now - logged_in_at >= settings.SESSION_MAX_SECONDS
    )


class SessionLimitsMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        if request.user.is_authenticated:
            now = _now()
            if has_expired(session, now):
                logout(request)
                messages.info(request, _("Your session has expired. Please log in again."))
                return redirect_to_login(request.get_full_path())
            seen_at = session.get(SEEN_AT)
            if seen_at is None:  # a session from before these limits: it starts now
                _stamp(session, logged_in_at=now, seen_at=now)
            elif now - seen_at >= REFRESH_SECONDS:
                _stamp(session, logged_in_at=session[LOGGED_IN_AT], seen_at=now)
        return self.get_response(request)
