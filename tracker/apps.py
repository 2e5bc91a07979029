import axes.apps
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = _("Industrial project tracker")


class LoginAttemptsConfig(axes.apps.AppConfig):
    """django-axes (tracker/login_throttle.py), under a Chinese heading in the admin."""

    default = False  # not a candidate for the "tracker" app itself
    verbose_name = _("Login attempts")
