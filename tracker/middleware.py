"""Response headers that lock the browser down: what a page may load and run; and the
Chinese 404 page with DEBUG on (``NotFoundPageMiddleware``, at the end).

The policy is one constant for the whole site: every script and stylesheet is a file under
/static/ (no inline ``<script>``, ``<style>``, ``style="…"`` or ``on…=`` handlers; page data
travels in ``json_script`` blocks or ``data-`` attributes), so nothing per request (no nonce,
no hash) is needed. tests/test_csp.py checks the templates stay that way and
tests/test_browser_csp.py walks the pages with the policy enforced.

- ``img-src data:``: the empty favicon in base.html (``<link rel="icon" href="data:,">``)
  keeps browsers from asking for /favicon.ico.
- ``style-src 'self'``: ECharts and the admin scripts style elements through the CSSOM
  (``element.style``), which a policy does not restrict; only style attributes in HTML and
  ``<style>`` elements are.
- ``frame-ancestors 'none'`` is the modern form of ``X-Frame-Options: DENY`` (still sent by
  XFrameOptionsMiddleware for old browsers).

SecurityMiddleware already sends ``X-Content-Type-Options``, ``Referrer-Policy`` and
``Cross-Origin-Opener-Policy``; this adds the two it does not. It sits just below
SecurityMiddleware and above WhiteNoise, so static files, error pages and exports carry the
headers too.
"""

from django.conf import settings
from django.http import Http404
from django.urls import Resolver404, resolve
from django.views import defaults

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Browser features the tracker never uses, switched off for every page and frame.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["Permissions-Policy"] = PERMISSIONS_POLICY
        return response


class NotFoundPageMiddleware:
    """The Chinese 404 page (templates/404.html) also with DEBUG on, as the demo runs.

    With DEBUG, Django answers an address no URL matches, and an ``Http404`` raised by a view,
    with its technical English page instead of the ``handler404`` page. This renders the
    production page (``django.views.defaults.page_not_found``) for both cases, except under
    STATIC_URL and the debug toolbar's ``/__debug__/``. A view that renders its own 404
    page (the dispatch sheet's "not a week") keeps it. Without DEBUG it does nothing: Django
    already renders 404.html.
    """

    SKIP_PREFIXES = ("/__debug__/",)

    def __init__(self, get_response):
        self.get_response = get_response

    def _applies(self, request):
        if not settings.DEBUG:
            return False
        prefixes = (*self.SKIP_PREFIXES, settings.STATIC_URL or "/static/")
        return not request.path.startswith(prefixes)

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 404 and self._applies(request):
            try:
                resolve(request.path_info)
            except Resolver404 as exception:
                return defaults.page_not_found(request, exception)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, Http404) and self._applies(request):
            return defaults.page_not_found(request, exception)
        return None
