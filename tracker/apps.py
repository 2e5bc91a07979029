import axes.apps
from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext_lazy as _


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = _("Industrial project tracker")

    def ready(self):
        from . import sessions  # not at the top: apps.py is imported before the app registry

        user_logged_in.connect(sessions.stamp_login, dispatch_uid="tracker.sessions.stamp_login")


class LoginAttemptsConfig(axes.apps.AppConfig):
    """django-axes (tracker/login_throttle.py), under a Chinese heading in the admin."""

    default = False  # not a candidate for the "tracker" app itself
    verbose_name = _("Login attempts")
