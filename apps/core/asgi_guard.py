"""ASGI middleware: refuse an unwanted request body before a byte of it is read.

Django's ``ASGIHandler`` spools the whole body into a temporary file before any Django
middleware runs, so an anonymous 1 GiB POST used to be stored in full before its 401. This
wrapper sits in front of Django (``studio/asgi.py``) and applies
:func:`apps.core.request_limits.verdict`: no credentials → 401, declared length over the
route's cap → 413, a large or chunked body → its credentials are checked in the database
first. It also counts the bytes it passes on, so a chunked body (no ``Content-Length``)
stops at the cap with a 413 too.

Daphne itself reads the body before it calls any ASGI application; the same verdict is
applied inside Daphne by :mod:`apps.core.daphne_guard`. This wrapper keeps the guarantee
under any other ASGI server (and in-process tests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from channels.db import database_sync_to_async

from apps.core import request_limits
from apps.core.request_limits import NOT_AUTHENTICATED, Refusal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


def _headers(scope: Scope) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return found


async def send_refusal(send: Send, refusal: Refusal) -> None:
    body = refusal.body()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


class RequestGuard:
    """Wraps the Django ASGI application; non-HTTP scopes pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        lengths = headers.get("content-length")
        chunked = any("chunked" in v.lower() for v in headers.get("transfer-encoding", []))
        session = request_limits.session_key(headers.get("cookie", []))
        authorization = (headers.get("authorization") or [""])[0]
        verdict = request_limits.verdict(
            scope.get("path", ""),
            lengths[0] if lengths else None,
            chunked,
            bool(session),
            bool(authorization),
        )
        if verdict.refusal is not None:
            await send_refusal(send, verdict.refusal)
            return
        if verdict.check_credentials and not await database_sync_to_async(
            request_limits.credentials_valid
        )(session, authorization):
            await send_refusal(send, NOT_AUTHENTICATED)
            return
        await self._pass_on(scope, receive, send, verdict.cap)

    async def _pass_on(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        received = 0
        overflow = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, overflow
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    overflow = True
                    # Django treats a disconnect while reading the body as an aborted
                    # request and sends nothing; the 413 is sent below instead.
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)
        if overflow and not started:
            await send_refusal(send, request_limits.too_large(cap))
