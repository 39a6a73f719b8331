"""``GET /api/experiments/{pid}/{eid}/events``: every run of an experiment as one SSE stream.

An experiment has one job per run (the start, then each resume; ``runs.json``). The stream
replays the event logs of those jobs in order, then follows the current one live, and moves
on to the next run if a resume happens while it is open. It ends when the last run's job
has ended and no newer run exists — so ``curl -N`` shows a whole training and returns.

Event ids are ``run * 1_000_000_000 + job event id`` (run = 1, 2, … in ``runs.json``
order), so ``Last-Event-ID`` resumes exactly, across runs. Each payload carries ``job_id``
and ``run``. The job logs are the only source; the channel layer only wakes us up.
While it waits, the stream also reconciles: a run whose worker died is marked
``interrupted`` within one lease, which ends the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from apps.core.errors import error_response, studio_error_response
from apps.core.services import job_group
from apps.core.sse import authenticated, last_event_id, sse_response
from apps.core.workspace import ws
from apps.experiments import selectors, services, store
from apps.projects.access import Role, require_project_role
from studio.errors import StudioError
from studio.storage import job_store
from studio.storage.schemas import JobEvent

log = logging.getLogger(__name__)
RUN_STRIDE = 1_000_000_000
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
RECONCILE_EVERY = 3.0


def format_event(run: int, job_id: str, event: JobEvent) -> bytes:
    sse_id = run * RUN_STRIDE + event.id
    payload = json.dumps(
        {"id": sse_id, "type": event.type, "at": event.at.isoformat(), "job_id": job_id,
         "run": run, **event.data}
    )  # fmt: skip
    return f"id: {sse_id}\nevent: {event.type}\ndata: {payload}\n\n".encode()


class _Waker:
    """Channel-layer subscription to the current job's group (or plain polling)."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.group: str | None = None

    async def follow(self, job_id: str) -> None:
        if self.layer is None:
            return
        try:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            if self.group is not None:
                await self.layer.group_discard(self.group, self.channel)
            self.group = job_group(job_id)
            await self.layer.group_add(self.group, self.channel)
        except Exception:
            log.warning("channel layer unavailable; experiment SSE polls", exc_info=True)
            self.channel = None

    async def wait(self) -> None:
        if self.channel is not None and self.layer is not None:
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(self.layer.receive(self.channel), timeout=POLL_SECONDS)
        else:
            await asyncio.sleep(POLL_SECONDS)

    async def close(self) -> None:
        if self.channel is not None and self.layer is not None and self.group is not None:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(self.group, self.channel)


async def experiment_stream(project_id: str, experiment_id: str, last: int) -> AsyncIterator[bytes]:
    """Yield the events of every run after SSE id ``last``; end after the final run ends."""
    lease = timedelta(seconds=settings.STUDIO_JOB_LEASE_SECONDS)
    read_runs = sync_to_async(store.read_runs)
    run, last_event = divmod(max(last, 0), RUN_STRIDE)
    run = max(run, 1)
    waker = _Waker()
    followed = ""
    offset = 0
    idle = since_reconcile = 0.0
    yield b"retry: 2000\n\n"
    try:
        while True:
            runs = await read_runs(ws(), project_id, experiment_id)
            if len(runs) < run:
                return  # nothing (more) to show: a draft, or an id from the future
            job_id = runs[run - 1].job_id
            if job_id != followed:
                followed, offset = job_id, 0
                await waker.follow(job_id)
            events, offset = await sync_to_async(job_store.read_events)(ws(), job_id, offset)
            for event in events:
                if event.id > last_event:
                    last_event = event.id
                    idle = 0.0
                    yield format_event(run, job_id, event)
            try:
                job = await sync_to_async(job_store.load)(ws(), job_id)
            except StudioError:
                return
            if job.status.terminal and last_event >= job.last_event_id:
                if len(runs) > run:
                    run, last_event = run + 1, 0
                    continue
                latest = await read_runs(ws(), project_id, experiment_id)
                if len(latest) > run:  # a resume arrived just now
                    continue
                return
            started = asyncio.get_running_loop().time()
            await waker.wait()
            waited = asyncio.get_running_loop().time() - started
            idle += waited
            since_reconcile += waited
            if since_reconcile >= RECONCILE_EVERY:
                since_reconcile = 0.0
                if job.status.value == "running" and job_store.is_stale(job, lease):
                    await sync_to_async(services.experiment_reconcile)(project_id, experiment_id)
            if idle >= KEEPALIVE_SECONDS:
                idle = 0.0
                yield b": keep-alive\n\n"
    finally:
        await waker.close()


async def experiment_events(
    request: HttpRequest, project_id: str, experiment_id: str
) -> HttpResponseBase:
    """Replay then live events of every run of the experiment (text/event-stream)."""
    user = await authenticated(request)
    if user is None:
        return error_response(
            "not_authenticated", "Authentication credentials were not provided.", 401
        )
    try:
        await sync_to_async(require_project_role)(user, project_id, Role.viewer)
        await sync_to_async(selectors.experiment_get)(project_id, experiment_id)
    except StudioError as exc:
        return studio_error_response(exc)
    last = last_event_id(request)
    return sse_response(experiment_stream(project_id, experiment_id, last))
