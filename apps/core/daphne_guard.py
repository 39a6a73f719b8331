"""Refuse an unwanted request body inside Daphne, as soon as the headers are in.

Daphne (Twisted) receives the whole body — into a temporary file above 100 kB — before it
calls the ASGI application, so an ASGI middleware alone cannot stop an anonymous client
from making the server store 1 GiB. :func:`install` swaps Daphne's request class for a
subclass that applies :func:`apps.core.request_limits.verdict` when the headers are
complete (Twisted's ``gotLength``), before any of the body is accepted:

- refused (401 / 413 / 400): the JSON error is written at once, the connection's write side
  is closed, and whatever the client still sends is read and dropped (so it sees the answer
  instead of a reset) for at most ``LINGER_SECONDS``;
- a large or chunked body with credentials: reading stops until the credentials are checked
  in the database, then resumes — or the 401 is sent;
- while the body arrives, the bytes are counted: past the route's cap (a chunked body has no
  ``Content-Length``) the 413 is sent the same way.

``studio/asgi.py`` calls :func:`install` when it is loaded by Daphne; elsewhere it is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any
from urllib.parse import unquote

from apps.core import request_limits
from apps.core.request_limits import NOT_AUTHENTICATED, Refusal

log = logging.getLogger("studio.security")
LINGER_SECONDS = 10.0


def _raw_response(refusal: Refusal) -> bytes:
    body = refusal.body()
    head = (
        f"HTTP/1.1 {refusal.status} {refusal.reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _make_request_class(base: type) -> type:
    from twisted.internet import reactor

    class GuardedWebRequest(base):  # type: ignore[misc, valid-type]
        """Daphne's ``WebRequest`` plus the early checks (see the module docstring)."""

        _studio_refused = False
        _studio_cap = 0
        _studio_received = 0

        def gotLength(self, length: int | None) -> None:
            super().gotLength(length)
            try:
                self._studio_check_headers()
            except Exception:  # never let the guard break a request it cannot judge
                log.exception("request guard failed; the request goes on unguarded")

        def _studio_check_headers(self) -> None:
            headers = self.requestHeaders
            target = bytes(getattr(self.channel, "_path", b"") or b"")
            path = unquote(target.split(b"?", 1)[0].decode("latin-1"))
            lengths = headers.getRawHeaders(b"content-length")
            encodings = headers.getRawHeaders(b"transfer-encoding") or []
            cookies = [c.decode("latin-1") for c in headers.getRawHeaders(b"cookie") or []]
            authorization = (headers.getRawHeaders(b"authorization") or [b""])[0]
            session = request_limits.session_key(cookies)
            verdict = request_limits.verdict(
                path,
                lengths[0].decode("latin-1") if lengths else None,
                any(b"chunked" in e.lower() for e in encodings),
                bool(session),
                bool(authorization),
            )
            self._studio_cap = verdict.cap
            if verdict.refusal is not None:
                self._studio_refuse(verdict.refusal)
            elif verdict.check_credentials:
                self._studio_check_credentials(session, authorization.decode("latin-1"))

        def _studio_check_credentials(self, session: str, authorization: str) -> None:
            from channels.db import database_sync_to_async

            producer = self.channel._networkProducer
            producer.pauseProducing()  # not a byte of the body until we know who it is
            check = database_sync_to_async(request_limits.credentials_valid)
            future = asyncio.ensure_future(check(session, authorization))

            def done(fut: asyncio.Future[bool]) -> None:
                if self._studio_refused or self.channel is None:
                    return
                ok = not fut.cancelled() and fut.exception() is None and fut.result()
                if ok:
                    producer.resumeProducing()
                else:
                    self._studio_refuse(NOT_AUTHENTICATED)

            future.add_done_callback(done)

        def handleContentChunk(self, data: bytes) -> None:
            if self._studio_refused:
                return
            self._studio_received += len(data)
            if self._studio_cap and self._studio_received > self._studio_cap:
                self._studio_refuse(request_limits.too_large(self._studio_cap))
                return
            super().handleContentChunk(data)

        def process(self) -> Any:
            if self._studio_refused:
                return None
            return super().process()

        def _studio_refuse(self, refusal: Refusal) -> None:
            self._studio_refused = True
            channel = self.channel
            transport = channel.transport
            # Twisted would answer "100 Continue" right after this; the client must not send.
            self.requestHeaders.removeHeader(b"expect")
            channel.dataReceived = lambda data: None  # drop the rest of the body
            transport.write(_raw_response(refusal))
            transport.loseWriteConnection()
            channel._networkProducer.resumeProducing()  # keep draining until the client stops
            clock: Any = reactor
            clock.callLater(LINGER_SECONDS, transport.abortConnection)

    return GuardedWebRequest


def install() -> bool:
    """Use the guarded request class in this process's Daphne; ``False`` when not under Daphne."""
    if "daphne.server" not in sys.modules:
        return False
    from daphne import http_protocol

    if getattr(http_protocol.WebRequest, "_studio_guarded", False):
        return True
    guarded = _make_request_class(http_protocol.WebRequest)
    guarded._studio_guarded = True  # type: ignore[attr-defined]
    # HTTPFactory.buildProtocol looks the class up by this module-level name.
    http_protocol.WebRequest = guarded  # type: ignore[misc]
    return True
