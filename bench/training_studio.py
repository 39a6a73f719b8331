"""A real Studio training job against a plain PyTorch loop doing the same work.

Studio path: ``experiment_start`` (what ``POST /api/experiments/{pid}/{eid}/start`` calls) →
Redis → a real ``rundramatiq`` worker (started and booted beforehand, as under
``manage.py studio``) → lease, job events, experiment.json + mirror updates, heartbeats,
``last.ckpt``/``best.ckpt`` every epoch → the job's final event; timed from the start call
until ``job.json`` reports the job finished (it is written after the final event is in the
log, so an SSE client has the whole stream by then).

Baseline: :func:`bench.training_overhead._plain_loop` (the one hand-written loop) in this
process on the same images (scikit-learn digits at 32 px, 80/10/10: 1,437 training
images), model (ResNet-18 from scratch), epochs, batch size (64), optimizer (AdamW) and
schedule, no random augmentation, with per-epoch validation; no events, no checkpoints.
Both read the same warm training cache. Runs alternate (plain, Studio, plain, Studio…) and
the fastest of each is compared, since the shared CPU is noisy. Goal: ≤ 1.10x for 4 epochs
and ≤ 1.05x for 20 epochs.

Environment: ``BENCH_TRAIN_EPOCHS`` (default ``4,20``: one comparison per value),
``BENCH_TRAIN_REPEATS`` (default 2 runs of each side per epoch count).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.training_overhead import _plain_loop  # also sets OMP_WAIT_POLICY before torch

EPOCH_COUNTS = [int(v) for v in os.environ.get("BENCH_TRAIN_EPOCHS", "4,20").split(",") if v]
REPEATS = int(os.environ.get("BENCH_TRAIN_REPEATS", "2"))
IMAGES = 1797  # all of scikit-learn's digits
TARGETS = {4: 1.10, 20: 1.05}
CONFIG: dict[str, Any] = {
    "model": "resnet18", "image_size": 32, "batch_size": 64, "optimizer": "adamw",
    "scheduler": "cosine", "augment": {"random_resized_crop": False, "hflip": False},
}  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent


def _setup(root: Path) -> None:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["STUDIO_TEST_ROOT"] = str(root)
    os.environ["STUDIO_WORKSPACE"] = str(root / "ws")
    os.environ["STUDIO_DB_PATH"] = str(root / "bench.sqlite3")
    os.environ["STUDIO_OFFLINE"] = "1"
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _worker(root: Path) -> subprocess.Popen[bytes]:
    """A booted ``rundramatiq`` worker (ML stack preloaded, like ``manage.py studio``'s)."""
    from django.conf import settings

    env = dict(os.environ, STUDIO_TEST_CHILD="1", STUDIO_REDIS_URL=settings.REDIS_URL,
               PYTHONUNBUFFERED="1")  # fmt: skip
    log = (root / "worker.log").open("wb")
    argv = [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "1"]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while "ready for action" not in (root / "worker.log").read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"the worker did not start; see {root / 'worker.log'}")
        time.sleep(0.2)
    return proc


def _studio_job(pid: str, sid: str, config: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """One training job from the start call to its final event: (seconds, facts)."""
    from django.conf import settings

    from apps.experiments import services, store
    from studio.storage import job_store
    from studio.storage.schemas import JobStatus

    exp = services.experiment_create(pid, sid, config)
    started = time.perf_counter()
    exp = services.experiment_start(pid, exp.id)
    assert exp.job_id
    running = (JobStatus.queued, JobStatus.running)
    job_file = settings.WORKSPACE.job_dir(exp.job_id) / "job.json"
    seen = -1
    while True:  # parse job.json only when it changed: the waiting must not eat the CPU
        mtime = job_file.stat().st_mtime_ns
        if mtime != seen:
            seen = mtime
            if (job := job_store.load(settings.WORKSPACE, exp.job_id)).status not in running:
                break
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    final = store.load(settings.WORKSPACE, pid, exp.id)
    assert final.status.value == "completed", (job.status, job.error, final.error)
    events, _ = job_store.read_events(settings.WORKSPACE, exp.job_id)
    at = {e.type: e.at for e in events}
    facts = {
        "queue_latency_s": round((job.started_at - job.created_at).total_seconds(), 2)  # type: ignore[operator]
        if job.started_at
        else None,
        "started_to_training_s": round((at["training_started"] - at["started"]).total_seconds(), 2)
        if "training_started" in at and "started" in at
        else None,
        "job_events": job.last_event_id,
        # where the time goes: every event but the batch ticks, in seconds since the job's record
        "timeline": [
            (e.type, round((e.at - job.created_at).total_seconds(), 2))
            for e in events
            if e.type != "batch"
        ],
        "finished_after_created_s": round(
            (job.finished_at - job.created_at).total_seconds(),
            2,  # type: ignore[operator]
        )
        if job.finished_at
        else None,
        "val_accuracy": final.final_metrics.get("val_accuracy"),
    }
    return seconds, facts


def _compare(pid: str, sid: str, epochs: int, datamodule: Any, num_outputs: int) -> dict[str, Any]:
    config = {**CONFIG, "epochs": epochs}
    typed = datamodule.task.make_config(config)
    plain: list[float] = []
    studio: list[float] = []
    facts: dict[str, Any] = {}
    plain_acc = 0.0
    for _ in range(REPEATS):
        # the datamodule's loaders: same cache, batch size and (no) augmentation as the job
        seconds, plain_acc = _plain_loop(datamodule, typed, num_outputs, typed.seed)
        plain.append(seconds)
        seconds, facts = _studio_job(pid, sid, config)
        studio.append(seconds)
    ratio = min(studio) / min(plain)
    target = TARGETS.get(epochs, 1.10)
    print(
        f"   {epochs} epochs: plain loop {min(plain):.1f} s, Studio job {min(studio):.1f} s "
        f"(start call → final event): ratio {ratio:.3f} (target <= {target:.2f}) · load "
        f"{os.getloadavg()[0]:.2f}",
        flush=True,
    )
    return {
        "epochs": epochs,
        "plain_s": [round(t, 2) for t in plain],
        "studio_s": [round(t, 2) for t in studio],
        "ratio": round(ratio, 3),
        "target_ratio": target,
        "ok": ratio <= target,
        "plain_val_accuracy": round(plain_acc, 4),
        "studio_val_accuracy": facts.get("val_accuracy"),
        "studio_queue_latency_s": facts.get("queue_latency_s"),
        "studio_started_to_training_s": facts.get("started_to_training_s"),
        "studio_job_events": facts.get("job_events"),
        "studio_timeline": facts.get("timeline"),
        "studio_finished_after_created_s": facts.get("finished_after_created_s"),
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


def main() -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-training-studio-"))
    _setup(root)
    from django.conf import settings

    from apps.experiments import runner, store
    from studio.ml.data import StudioDataModule
    from studio.ml.tasks.registry import load_task
    from studio.runtime.redis_server import EmbeddedRedis
    from tests.experiments.helpers import digits_project

    load_before = [round(v, 2) for v in os.getloadavg()]
    redis = EmbeddedRedis(settings.WORKSPACE)
    redis.start()
    worker = None
    runs: list[dict[str, Any]] = []
    try:
        pid, sid = digits_project(settings.WORKSPACE, images=IMAGES)
        samples, dataset, counts = runner.build_samples(pid, sid)
        task = load_task("classification")
        config = task.make_config({**CONFIG, "epochs": max(EPOCH_COUNTS)})
        cache = store.training_cache_dir(settings.WORKSPACE, pid)
        datamodule = StudioDataModule(task, samples, dataset, config, cache)
        datamodule.prepare()  # the warm cache both sides read
        worker = _worker(root)
        for epochs in EPOCH_COUNTS:
            runs.append(_compare(pid, sid, epochs, datamodule, task.num_outputs(dataset)))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)
    import torch

    return {
        "config": CONFIG,
        "train_images": datamodule.counts()["train"],
        "images": counts["images"],
        "repeats": REPEATS,
        "runs": runs,
        "ok": all(r["ok"] for r in runs),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": load_before,
    }
