import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yichun.settings")
application = get_asgi_application()

if settings.SECRET_KEY_IS_EPHEMERAL:
    # Every app process must sign sessions and CSRF tokens with the same key.
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
