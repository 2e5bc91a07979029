"""Login throttling: django-axes' database handler, configured in settings (AXES_*).

Failures are rows of ``axes.AccessAttempt`` (one per username, address and browser), so every
app process sees the same count. A username is locked once its failures from all addresses
reach ``AXES_FAILURE_LIMIT`` within the cool-off, and an address once its failures for all
usernames do; each row counts until one cool-off after its last failure. This module adds
what axes leaves to the project: which address a request comes from behind our proxies, a
narrower reset on success, and the Chinese page a locked-out login gets.
"""

import ipaddress
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import REDIRECT_FIELD_NAME
from django.db.models import Sum
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import ngettext


def client_address(request):
    """The address a login attempt counts against (``AXES_CLIENT_IP_CALLABLE``).

    The peer's address, or behind ``TRUSTED_PROXY_COUNT`` proxies that each append the
    address they saw to X-Forwarded-For, the entry the outermost of them appended: what the
    client wrote into the header itself stays to the left and is never read. Anything that
    is not an address is ignored, so nothing unchecked reaches the database.
    """
    candidates = []
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(forwarded) >= hops:
            candidates.append(forwarded[-hops].strip())
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


class LoginThrottleHandler(AxesDatabaseHandler):
    """The database handler, with a reset on success that forgives only one's own mistakes.

    Axes' own reset deletes every row of the username *or* the address, so a person with an
    account could wipe the guesses they made at a colleague's account by logging in to their
    own from the same address, and guess again. Here a successful login deletes only the
    rows of that username from that address.
    """

    def reset_user_attempts(self, request, credentials=None):
        count, _ = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        ).delete()
        return count

    def lock_ends_at(self, request, credentials=None):
        """When the lock on this username or address lifts (None if there is none)."""
        cool_off = get_cool_off(request)
        limit = get_failure_limit(request, credentials)
        ends = []
        for attempts in self.get_user_attempts(request, credentials):
            total = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if total < limit:
                continue
            # Rows stop counting one cool-off after their last failure, oldest first.
            for attempt_time, failures in attempts.order_by("attempt_time").values_list(
                "attempt_time", "failures_since_start"
            ):
                total -= failures
                if total < limit:
                    ends.append(attempt_time + cool_off)
                    break
        return max(ends, default=None)


def lockout_response(request, original_response, credentials):
    """The login page again (status 429), saying why and for how long (AXES_LOCKOUT_CALLABLE).

    Used for both login pages; the form posts back to the page it came from.
    """
    ends = LoginThrottleHandler().lock_ends_at(request, credentials)
    seconds = (ends - timezone.now()).total_seconds() if ends else 0
    minutes = max(1, math.ceil(seconds / 60))
    username = get_client_username(request, credentials) or ""
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "lockout_message": ngettext(
            "Too many failed logins for this account or from this address. Logging in is "
            "paused: try again in %(minutes)d minute. An administrator can lift the lock "
            "at once.",
            "Too many failed logins for this account or from this address. Logging in is "
            "paused: try again in %(minutes)d minutes. An administrator can lift the lock "
            "at once.",
            minutes,
        )
        % {"minutes": minutes},
        "next": request.POST.get(REDIRECT_FIELD_NAME, request.GET.get(REDIRECT_FIELD_NAME, "")),
    }
    return render(request, "registration/login.html", context, status=429)
