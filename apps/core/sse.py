"""Server-sent events for jobs: replay from the event log, then live.

The event log on disk is the only source of events; the channel layer only wakes
listeners up. So a slow client, a dropped Redis message or a Redis restart never
loses or reorders an event, and ``Last-Event-ID`` replays exactly what was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from rest_framework.authtoken.models import Token

from apps.core.errors import error_response, studio_error_response
from apps.core.selectors import job_get
from apps.core.services import job_group
from apps.core.workspace import ws
from apps.projects.access import Role, require_job_role
from studio.errors import StudioError
from studio.storage import job_store
from studio.storage.schemas import JobEvent

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0


async def authenticated(request: HttpRequest) -> Any | None:
    """The user of the session cookie or ``Authorization: Token <key>``, as the rest of the
    API; ``None`` when neither authenticates (the caller answers 401)."""
    user = await request.auser()
    if user.is_authenticated:
        return user
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "token" and key:
        token = await (
            Token.objects.select_related("user")
            .filter(key=key.strip(), user__is_active=True)
            .afirst()
        )
        return token.user if token is not None else None
    return None


# ASCII digits only (``str.isdigit`` accepts "²", which ``int`` refuses), and short:
# ids are at most ~19 digits (experiment streams: run * 1e9 + event id).
_EVENT_ID_RE = re.compile(r"[0-9]{1,20}")


def last_event_id(request: HttpRequest) -> int:
    """``Last-Event-ID`` (or ``?last_event_id=``) as an int; anything else replays from 0.

    A client that sends garbage gets the whole stream again, which is always correct;
    never a 500.
    """
    raw = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or "0"
    raw = raw.strip()
    return int(raw) if _EVENT_ID_RE.fullmatch(raw) else 0


def format_event(event: JobEvent) -> bytes:
    payload = json.dumps(
        {"id": event.id, "type": event.type, "at": event.at.isoformat(), **event.data}
    )
    return f"id: {event.id}\nevent: {event.type}\ndata: {payload}\n\n".encode()


async def event_stream(job_id: str, last_id: int) -> AsyncIterator[bytes]:
    """Yield events after ``last_id``; end once the job is finished and all is sent."""
    layer = get_channel_layer()
    channel = None
    if layer is not None:
        try:
            channel = await layer.new_channel()
            await layer.group_add(job_group(job_id), channel)
        except Exception:
            log.warning("channel layer unavailable; SSE for job %s polls", job_id, exc_info=True)
            channel = None
    offset = 0
    idle = 0.0
    yield b"retry: 2000\n\n"
    try:
        while True:
            events, offset = await sync_to_async(job_store.read_events)(ws(), job_id, offset)
            for event in events:
                if event.id > last_id:
                    last_id = event.id
                    idle = 0.0
                    yield format_event(event)
            job = await sync_to_async(job_store.load)(ws(), job_id)
            if job.status.terminal and last_id >= job.last_event_id:
                return
            started = asyncio.get_running_loop().time()
            if channel is not None and layer is not None:
                with contextlib.suppress(TimeoutError, Exception):
                    await asyncio.wait_for(layer.receive(channel), timeout=POLL_SECONDS)
            else:
                await asyncio.sleep(POLL_SECONDS)
            idle += asyncio.get_running_loop().time() - started
            if idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield b": keep-alive\n\n"
    finally:
        if channel is not None and layer is not None:
            with contextlib.suppress(Exception):
                await layer.group_discard(job_group(job_id), channel)


async def job_events(request: HttpRequest, job_id: str) -> HttpResponseBase:
    """``GET /api/jobs/{job_id}/events``: text/event-stream, replay then live."""
    user = await authenticated(request)
    if user is None:
        return error_response(
            "not_authenticated", "Authentication credentials were not provided.", 401
        )
    try:
        await sync_to_async(require_job_role)(user, job_id, Role.viewer)  # else 404 / 403
        await sync_to_async(job_get)(job_id)
    except StudioError as exc:
        return studio_error_response(exc)
    last_id = last_event_id(request)
    return sse_response(event_stream(job_id, last_id))


def sse_response(stream: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
