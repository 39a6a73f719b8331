"""Login throttling: too many failed log-ins lock further attempts for a while.

Failures are counted per user name (``STUDIO_LOGIN_MAX_FAILURES_PER_USER``, 5) and per client
address (``STUDIO_LOGIN_MAX_FAILURES_PER_ADDRESS``, 20) in a window of
``STUDIO_LOGIN_WINDOW_SECONDS`` (15 minutes) that starts at the first failure. Past either
limit, the log-in form refuses to check the password at all (429) until the window ends. A
successful log-in clears the user's counter (not the address's). Counters live in Django's
cache — Redis, shared by every web process. Every failure is logged on ``studio.security``
with the user name and the address.

API tokens are not throttled: a token is 160 random bits, not something to guess.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

log = logging.getLogger("studio.security")


def _limits() -> tuple[int, int, int]:
    return (
        int(getattr(settings, "STUDIO_LOGIN_MAX_FAILURES_PER_USER", 5)),
        int(getattr(settings, "STUDIO_LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
        int(getattr(settings, "STUDIO_LOGIN_WINDOW_SECONDS", 15 * 60)),
    )


def client_address(request: HttpRequest | None) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown") if request is not None else "unknown"


def _keys(username: str, address: str) -> tuple[str, str]:
    # hashed: a user name may hold any character, cache keys may not
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    addr = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"login-fail:user:{user}", f"login-fail:addr:{addr}"


def is_locked(username: str, address: str) -> bool:
    """Whether a log-in as ``username`` from ``address`` is refused without a password check."""
    per_user, per_address, _ = _limits()
    user_key, addr_key = _keys(username, address)
    try:
        counts = cache.get_many([user_key, addr_key])
    except Exception:  # the cache is down: do not lock everyone out
        log.warning("login throttle: cache unavailable", exc_info=True)
        return False
    return counts.get(user_key, 0) >= per_user or counts.get(addr_key, 0) >= per_address


def record_failure(username: str, address: str) -> None:
    _, _, window = _limits()
    log.warning("failed log-in for user %r from %s", username, address)
    for key in _keys(username, address):
        try:
            # add() starts the window only on the first failure; incr() keeps its expiry
            if not cache.add(key, 1, timeout=window):
                cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=window)
        except Exception:
            log.warning("login throttle: cache unavailable", exc_info=True)


def record_success(username: str) -> None:
    try:
        cache.delete(_keys(username, "")[0])
    except Exception:
        log.warning("login throttle: cache unavailable", exc_info=True)


LOCKED_MESSAGE = (
    "Too many failed log-ins for this user or from this address. "
    "Log-in is locked for {minutes} minutes; try again later."
)


class ThrottleMixin:
    """For an ``AuthenticationForm``: refuse while locked, count failures, reset on success."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    locked = False

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = client_address(self.request)
        if username and is_locked(username, address):
            self.locked = True
            log.warning("locked log-in attempt for user %r from %s", username, address)
            raise forms.ValidationError(
                LOCKED_MESSAGE.format(minutes=_limits()[2] // 60), code="throttled"
            )
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            if username:
                record_failure(username, address)
            raise
        record_success(username)
        return cleaned


class ThrottledAuthenticationForm(ThrottleMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottleMixin, AdminAuthenticationForm):
    pass


class ThrottledLoginView(auth_views.LoginView):
    """Django's login page with :class:`ThrottledAuthenticationForm`; 429 while locked."""

    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "locked", False):
            response.status_code = 429
        return response
