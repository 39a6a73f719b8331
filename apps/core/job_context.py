"""What a running job handler sees: its params and ways to report progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from studio.errors import StudioError


class JobCancelled(StudioError):
    code = "cancelled"


class JobContext:
    """Passed to every job handler by the worker.

    ``progress`` is throttled (at most every ``min_interval`` seconds unless
    forced) so a fast loop does not turn into thousands of disk and database
    writes; ``event`` always writes.
    """

    def __init__(
        self,
        job_id: str,
        project_id: str | None,
        params: dict[str, Any],
        emit: Callable[[str, dict[str, Any], dict[str, Any] | None], None],
        is_cancel_requested: Callable[[], bool],
        min_interval: float = 0.25,
    ) -> None:
        self.job_id = job_id
        self.project_id = project_id
        self.params = params
        self._emit = emit
        self._is_cancel_requested = is_cancel_requested
        self._min_interval = min_interval
        self._last_progress = 0.0

    def progress(
        self,
        done: int,
        total: int,
        message: str = "",
        *,
        force: bool = False,
        data: dict[str, Any] | None = None,
    ) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < self._min_interval:
            return
        self._last_progress = now
        payload = {"done": done, "total": total, "message": message, **(data or {})}
        self._emit(
            "progress", payload, {"progress": {"done": done, "total": total}, "message": message}
        )

    def event(self, type_: str, data: dict[str, Any]) -> None:
        self._emit(type_, data, None)

    def cancel_requested(self) -> bool:
        return self._is_cancel_requested()

    def raise_if_cancelled(self) -> None:
        if self._is_cancel_requested():
            raise JobCancelled("Cancelled on request")
