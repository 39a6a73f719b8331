"""Training through Studio's job path vs. calling ``run_training`` directly.

Studio path: ``experiment_create(start)`` → Redis → a real ``rundramatiq`` worker (already
started and idle) → lease, events on the job log, experiment.json + mirror updates every
epoch/checkpoint, heartbeats → ``completed``; timed from the enqueue to the moment the API
would report ``completed``. Baseline: ``run_training`` in this process on the same samples,
config and warm image cache, with no-op callbacks. The ratio is the price of running as a
job (target ≤ 1.10); the queue latency (enqueue → the worker starts the job) is reported too.

Environment: ``BENCH_STUDIO_IMAGES`` (default 400 digits), ``BENCH_STUDIO_EPOCHS`` (2).
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

IMAGES = int(os.environ.get("BENCH_STUDIO_IMAGES", "400"))
EPOCHS = int(os.environ.get("BENCH_STUDIO_EPOCHS", "2"))
CONFIG: dict[str, Any] = {
    "model": "resnet18", "image_size": 32, "batch_size": 32, "epochs": EPOCHS,
    "warmup_epochs": 0, "augment": {"random_resized_crop": False, "hflip": False},
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


def main() -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-training-studio-"))
    _setup(root)
    from django.conf import settings

    from apps.experiments import runner, services, store
    from studio.ml.data import StudioDataModule
    from studio.ml.tasks.registry import load_task
    from studio.ml.train import run_training
    from studio.runtime.redis_server import EmbeddedRedis
    from studio.storage import job_store
    from tests.experiments.helpers import digits_project

    redis = EmbeddedRedis(settings.WORKSPACE)
    redis.start()
    worker = None
    try:
        pid, sid = digits_project(settings.WORKSPACE, images=IMAGES)
        samples, dataset, _ = runner.build_samples(pid, sid)
        task = load_task("classification")
        config = task.make_config(CONFIG)
        cache = store.training_cache_dir(settings.WORKSPACE, pid)
        StudioDataModule(task, samples, dataset, config, cache).prepare()  # warm for both
        worker = _worker(root)

        started = time.perf_counter()
        direct = run_training(root / "direct", samples, dataset, config, "classification",
                              lambda kind, data: None, lambda: False, cache_dir=cache)  # fmt: skip
        direct_s = time.perf_counter() - started

        exp = services.experiment_create(pid, sid, CONFIG)
        started = time.perf_counter()
        exp = services.experiment_start(pid, exp.id)
        while store.load(settings.WORKSPACE, pid, exp.id).status.value in ("queued", "running"):
            time.sleep(0.05)
        job_s = time.perf_counter() - started
        final = store.load(settings.WORKSPACE, pid, exp.id)
        assert final.status.value == "completed", final.error
        assert exp.job_id
        job = job_store.load(settings.WORKSPACE, exp.job_id)
        assert job.started_at is not None
        latency = (job.started_at - job.created_at).total_seconds()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)
    ratio = job_s / direct_s
    print(f"   direct run_training: {direct_s:.1f} s · through a worker: {job_s:.1f} s "
          f"(queue latency {latency:.2f} s) · ratio {ratio:.3f}")  # fmt: skip
    return {
        "images": IMAGES, "epochs": EPOCHS, "config": CONFIG, "cpus": os.cpu_count(),
        "direct_seconds": round(direct_s, 2), "job_seconds": round(job_s, 2),
        "queue_latency_seconds": round(latency, 2), "job_events": job.last_event_id,
        "ratio": round(ratio, 3), "target_ratio": 1.10, "ok": ratio <= 1.10,
        "direct_val_accuracy": direct.final_metrics.get("val_accuracy"),
        "job_val_accuracy": final.final_metrics.get("val_accuracy"),
        "load_average": os.getloadavg()[0],
    }  # fmt: skip
