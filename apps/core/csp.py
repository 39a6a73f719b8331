"""Content-Security-Policy on every response: only Studio's own files may run as script.

The GUI loads its scripts from ``/static/`` (HTMX, Alpine's CSP build, Chart.js, one file per
page) and has no inline ``<script>``, no ``on*=`` attribute and no ``eval``; Alpine's CSP build
parses its expressions itself instead of calling ``new Function``. So ``script-src 'self'`` holds
for every page, the Django admin, the DRF browsable API and Swagger UI alike: an injected
``<script>`` or ``onerror=`` in a page never runs.

``style-src`` keeps ``'unsafe-inline'``: the templates set a few ``style="…"`` attributes
(swatch colours, chart heights) and Alpine's string ``:style`` bindings write the ``style``
attribute. Styles cannot run code, so this does not weaken the script policy.
"""

from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds :data:`POLICY` to every response that does not set its own policy.

    Every response gets it, not only HTML: a JSON body or an image opened directly in a tab
    is then as locked down as a page. A view that needs another policy sets the header itself
    and this middleware leaves it alone (none does today). ``MiddlewareMixin`` makes it both
    sync and async capable, so it adds no thread hop under Daphne.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if HEADER not in response:
            response[HEADER] = POLICY
        return response
