"""Browsing speed: page requests on a 100,000-image dataset vs the same on 1,000 images.

Each dataset is built the way an import leaves it (per-image metadata JSON files,
``dataset.json``, mirror rows bulk-loaded by ``apps.datasets.mirror.mirror_commit``;
no image files — the list never touches them). Then ``GET /api/datasets/{id}/images``
is requested through the whole Django stack (session auth, the mirror sync check,
filter, sort, count, page, JSON) with page_size 100, a class filter, a random sort
(name/date/size, either direction) and a random page of that class. Requests to the
two datasets are interleaved so that both see the same background load.

Prints p50/p95 of both and the 100k/1k ratio of p95 (targets: p95 ≤ 50 ms, ratio ≤ 1.5).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.dataset_import import new_project, setup_django

REQUESTS = int(os.environ.get("BENCH_BROWSE_REQUESTS", "500"))
SIZES = (1_000, 100_000)
N_CLASSES = 10
PAGE_SIZE = 100
SORTS = ["name", "-name", "date", "-date", "size", "-size"]


def build_dataset(size: int) -> str:
    """A project whose dataset holds ``size`` records (10 classes, ~1 KB metadata each)."""
    from apps.core.workspace import ws
    from apps.datasets.mirror import mirror_commit
    from studio.datasets import store
    from studio.storage.dataset_schemas import Annotations, ImageRecord, ImportReport
    from studio.storage.jsonio import write_json_atomic
    from studio.storage.schemas import utcnow

    project_id = new_project(f"Browse {size}")
    paths = store.dataset_paths(ws(), project_id)
    import_id = "ibench"
    dataset = store.load_dataset(ws(), project_id)
    _, dataset.classes = store.plan_classes(dataset, [f"class_{c}" for c in range(N_CLASSES)])
    rng = random.Random(size)
    start = utcnow()
    records = []
    for i in range(size):
        sha = f"{rng.getrandbits(256):064x}"
        record = ImageRecord(
            id=sha[:16], original_name=f"class_{i % N_CLASSES}/img_{rng.getrandbits(40):012x}.jpg",
            path=paths.image_rel(sha, "jpg"), thumb_path=paths.thumb_rel(sha), width=640, height=480,
            format="JPEG", bytes=rng.randint(20_000, 200_000), sha256=sha, import_id=import_id,
            imported_at=start + timedelta(milliseconds=i), annotations=Annotations(label=i % N_CLASSES),
        )  # fmt: skip
        folder = paths.meta_dir / sha[:2]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{record.id}.json").write_text(record.model_dump_json(indent=2))
        records.append(record)
    report = ImportReport(id=import_id, source="bench", format="class_folders", status="committed",
                          added=size, finished_at=utcnow())  # fmt: skip
    store.write_report(paths, report)
    dataset.image_count = size
    dataset.imports.append(store.summary_of(report))
    write_json_atomic(paths.dataset_file, dataset)
    mirror_commit(records, report, dataset)
    return project_id


def requester(client: Any, project_id: str, size: int, seed: int) -> Any:
    """A function doing one random page request on a dataset; returns its milliseconds."""
    per_class = size // N_CLASSES
    pages = max(1, -(-per_class // PAGE_SIZE))
    rng = random.Random(seed)
    url = f"/api/datasets/{project_id}/images"

    def one() -> float:
        params = {"class": f"class_{rng.randrange(N_CLASSES)}", "sort": rng.choice(SORTS),
                  "page": rng.randint(1, pages), "page_size": PAGE_SIZE}  # fmt: skip
        started = time.perf_counter()
        response = client.get(url, params)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.content[:300]
        assert len(response.json()["results"]) == min(PAGE_SIZE, per_class)
        return elapsed

    return one


def measure(client: Any, datasets: dict[int, str]) -> dict[int, list[float]]:
    """``REQUESTS`` requests per dataset, interleaved (so both see the same machine load)."""
    calls = {size: requester(client, pid, size, seed=size) for size, pid in datasets.items()}
    for _ in range(20):  # warm-up
        for call in calls.values():
            call()
    times: dict[int, list[float]] = {size: [] for size in datasets}
    for _ in range(REQUESTS):
        for size, call in calls.items():
            times[size].append(call())
    return times


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-browse-"))
    try:
        setup_django(tmp)
        from django.contrib.auth import get_user_model
        from django.test import Client

        user, _ = get_user_model().objects.get_or_create(username="bench")
        client = Client(SERVER_NAME="localhost")  # ALLOWED_HOSTS is loopback only
        client.force_login(user)
        results: dict[str, Any] = {}
        datasets = {}
        for size in SIZES:
            started = time.perf_counter()
            datasets[size] = build_dataset(size)
            print(
                f"   built a {size:,}-image dataset in {time.perf_counter() - started:.1f}s",
                flush=True,
            )
        for size, times in measure(client, datasets).items():
            p50, p95 = percentile(times, 50), percentile(times, 95)
            results[str(size)] = {
                "p50_ms": round(p50, 2),
                "p95_ms": round(p95, 2),
                "requests": len(times),
            }
            print(
                f"   {size:>7,} images: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(times)} requests)",
                flush=True,
            )
        big, small = results[str(SIZES[1])], results[str(SIZES[0])]
        ratio = big["p95_ms"] / small["p95_ms"]
        print(
            f"   ratio p95 100k / 1k: {ratio:.2f} (target ≤ 1.5); p95 at 100k {big['p95_ms']} ms (target ≤ 50)"
        )
        return {
            "page_size": PAGE_SIZE, "classes": N_CLASSES, "sizes": results, "ratio_p95": round(ratio, 2),
            "target_ratio": 1.5, "target_p95_ms": 50,
            "ok": ratio <= 1.5 and big["p95_ms"] <= 50, "load_average": os.getloadavg()[0],
        }  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(main())
