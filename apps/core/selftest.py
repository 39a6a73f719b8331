"""A harmless job kind that proves the job machinery end to end (queue, worker, SSE)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from apps.core.job_context import JobContext


def run_selftest(ctx: JobContext) -> dict[str, Any]:
    """Count to ``steps`` with ``delay`` seconds each, reporting progress.

    ``params.record`` (optional) names a file that gets one line per execution,
    which is how tests prove that a job ran exactly once.
    """
    steps = int(ctx.params.get("steps", 5))
    delay = float(ctx.params.get("delay", 0.05))
    if record := ctx.params.get("record"):
        with Path(record).open("a") as fh:
            fh.write(f"{ctx.job_id} {os.getpid()}\n")
    for step in range(1, steps + 1):
        ctx.raise_if_cancelled()
        time.sleep(delay)
        ctx.progress(step, steps, f"step {step} of {steps}", force=step == steps)
    if ctx.params.get("fail"):
        raise RuntimeError("selftest asked to fail")
    return {"steps": steps, "pid": os.getpid()}
