"""Dramatiq middleware: each worker process imports the ML stack when it boots, not on a job.

Importing torch, torchvision, Lightning and torchmetrics takes ~6 s on a small CPU. Done on
the first training job, that time showed up between the job's ``started`` and ``preparing``
events (a 4-epoch run took 1.4-2x a plain PyTorch loop, partly for that). Done in
``after_process_boot`` it happens while the worker starts, before it consumes any message.

Contract:

- ``after_process_boot`` runs in every forked worker process (not in web servers or
  ``manage.py`` commands). It sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment
  already chose one (idle OpenMP threads sleep instead of spinning: on a small shared CPU,
  spinning threads of the worker's other threads and processes slow training down), then
  imports :data:`PRELOAD_MODULES` and every available task of the registry.
- It records what it did in :data:`PRELOADED` and logs one INFO line
  (``ML stack preloaded in … s``), which is how tests see it happen before any job.
- A failed import is logged as a warning and the worker still starts: imports and exports
  of datasets do not need the ML stack, and a training job reports the import error itself.
- ``STUDIO_WORKER_PRELOAD=0`` turns it off (e.g. a worker that only imports datasets).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from typing import Any

import dramatiq

log = logging.getLogger(__name__)

# What a training/evaluation/export job imports on its first run (their heavy dependencies
# first). The task modules come from the registry (each available task's implementation).
PRELOAD_MODULES: tuple[str, ...] = (
    "torch",
    "torchvision",
    "torchvision.models",
    "torchvision.transforms.v2",
    "lightning.pytorch",
    "torchmetrics",
    "torchmetrics.classification",
    "torchmetrics.regression",
    "studio.ml.catalog",
    "studio.ml.checkpoints",
    "studio.ml.data",
    "studio.ml.module",
    "studio.ml.trainer",
    "studio.ml.train",
)

PRELOADED: dict[str, Any] = {}  # filled in the worker process: modules, seconds, pid


def preload_ml() -> dict[str, Any]:
    """Import the ML stack into this process; returns (and stores in ``PRELOADED``) a summary.

    Idempotent: a second call finds everything in ``sys.modules`` and costs nothing.
    """
    from studio.ml.tasks.registry import TASKS

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read once, when torch loads OpenMP
    started = time.perf_counter()
    modules = list(PRELOAD_MODULES)
    modules += [i.implementation.partition(":")[0] for i in TASKS.values() if i.implementation]
    for name in modules:
        importlib.import_module(name)
    torch = sys.modules["torch"]
    PRELOADED.update(
        modules=modules,
        seconds=round(time.perf_counter() - started, 2),
        pid=os.getpid(),
        torch=str(torch.__version__),
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
    )
    return PRELOADED


class PreloadML(dramatiq.Middleware):
    """Imports the ML stack in each worker process before it takes a job (see module doc)."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        if os.environ.get("STUDIO_WORKER_PRELOAD", "1") == "0":
            return
        already = "torch" in sys.modules
        try:
            info = preload_ml()
        except Exception:
            log.warning("Worker %s could not preload the ML stack", os.getpid(), exc_info=True)
            return
        log.info(
            "Worker %s: ML stack preloaded in %.1f s (torch %s%s)",
            info["pid"],
            info["seconds"],
            info["torch"],
            ", already imported" if already else "",
        )
