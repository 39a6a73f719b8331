"""What a request may send before its body is read: credentials and a size cap per route.

Pure decisions on the request line and headers, shared by the ASGI guard
(:mod:`apps.core.asgi_guard`) and the Daphne hook (:mod:`apps.core.daphne_guard`), so both
refuse the same requests with the same JSON body.

- A request with a body (``Content-Length > 0`` or chunked) and neither a session cookie nor
  an ``Authorization`` header is refused with 401 at once — except the login forms.
- A body larger than its route's cap is refused with 413 ``request_too_large``. The cap is
  ``STUDIO_MAX_REQUEST_BYTES`` (1 MiB) for JSON and form bodies; the upload routes have
  their own, larger caps (dataset import: ``STUDIO_IMPORT_MAX_UPLOAD_BYTES`` + 1 MiB of
  multipart overhead; predict: the image limit + 1 MiB).
- A body above ``STUDIO_MAX_REQUEST_BYTES`` (or chunked) with credentials has them checked
  against the database before a byte of it is accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from django.conf import settings

MIB = 1024 * 1024
DEFAULT_MAX_REQUEST_BYTES = MIB
# Multipart framing (boundaries, part headers, the form fields) on top of the files.
MULTIPART_OVERHEAD = MIB

_IMPORT_RE = re.compile(r"^/api/datasets/[^/]+/import/?$")
_PREDICT_RE = re.compile(r"^/api/predict/[^/]+/[^/]+/?$")
# Anonymous POSTs that must work: the login forms (small bodies, the default cap applies).
_ANONYMOUS_BODY_PATHS = ("/login/", "/admin/login/")


@dataclass(frozen=True)
class Refusal:
    """An answer sent instead of reading the body."""

    status: int
    code: str
    message: str
    details: dict[str, object]

    def body(self) -> bytes:
        return json.dumps(
            {"error": {"code": self.code, "message": self.message, "details": self.details}}
        ).encode()

    @property
    def reason(self) -> str:
        return {401: "Unauthorized", 413: "Content Too Large"}.get(self.status, "Bad Request")


@dataclass(frozen=True)
class Verdict:
    """``refusal`` set: answer it now. ``check_credentials``: validate them before the body."""

    refusal: Refusal | None = None
    check_credentials: bool = False
    cap: int = DEFAULT_MAX_REQUEST_BYTES


def max_request_bytes() -> int:
    return int(getattr(settings, "STUDIO_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES))


def body_cap(path: str) -> int:
    """The largest body ``path`` accepts, in bytes (framing included)."""
    if _IMPORT_RE.match(path):
        from apps.datasets.conf import zip_caps

        return zip_caps().max_upload_bytes + MULTIPART_OVERHEAD
    if _PREDICT_RE.match(path):
        from studio.ml.export.predict import MAX_UPLOAD_BYTES

        return MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
    return max_request_bytes()


def human(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.4g} GiB"
    if n >= MIB:
        return f"{n / MIB:.4g} MiB"
    return f"{n / 1024:.4g} KiB"


def session_key(cookie_headers: Iterable[str]) -> str:
    """The session cookie's value, or ``""``."""
    name = settings.SESSION_COOKIE_NAME
    for header in cookie_headers:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(header)
        except CookieError:
            continue
        if name in cookie and cookie[name].value:
            return cookie[name].value
    return ""


def too_large(cap: int, length: int | None = None) -> Refusal:
    details: dict[str, object] = {"max_bytes": cap}
    if length is not None:
        details["content_length"] = length
    return Refusal(
        413,
        "request_too_large",
        f"The request body is larger than the limit of {human(cap)} for this address.",
        details,
    )


NOT_AUTHENTICATED = Refusal(
    401, "not_authenticated", "Authentication credentials were not provided.", {}
)
BAD_LENGTH = Refusal(400, "bad_request", "The Content-Length header is not a number.", {})


def verdict(
    path: str,
    content_length: str | None,
    chunked: bool,
    has_session: bool,
    has_authorization: bool,
) -> Verdict:
    """Decide from the headers alone what to do before reading the body."""
    cap = body_cap(path)
    length: int | None = None
    if content_length is not None:
        text = content_length.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 20:
            return Verdict(BAD_LENGTH, cap=cap)
        length = int(text)
    if not chunked and not length:
        return Verdict(cap=cap)  # no body: nothing to guard
    if not (has_session or has_authorization) and path not in _ANONYMOUS_BODY_PATHS:
        return Verdict(NOT_AUTHENTICATED, cap=cap)
    if length is not None and length > cap:
        return Verdict(too_large(cap, length), cap=cap)
    large = chunked or (length or 0) > max_request_bytes()
    return Verdict(check_credentials=large and path not in _ANONYMOUS_BODY_PATHS, cap=cap)


def credentials_valid(session: str, authorization: str) -> bool:
    """Whether the session cookie or ``Authorization: Token …`` belongs to an active user.

    Synchronous (database); callers in async code wrap it in ``database_sync_to_async``.
    Django and DRF authenticate the request again in full later; this only has to stop a
    stranger from sending a large body.
    """
    from importlib import import_module

    from django.contrib.auth import SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.base import SessionBase
    from rest_framework.authtoken.models import Token

    scheme, _, key = authorization.strip().partition(" ")
    token = key.strip()[:40] if scheme.lower() == "token" else ""
    if token and Token.objects.filter(key=token, user__is_active=True).exists():
        return True
    if session:
        engine = import_module(settings.SESSION_ENGINE)
        store: SessionBase = engine.SessionStore(session[:100])
        user_id = store.load().get(SESSION_KEY)
        if user_id is not None:
            return get_user_model()._default_manager.filter(pk=user_id, is_active=True).exists()
    return False
