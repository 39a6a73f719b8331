"""Import speed: 5,000 generated 640x480 JPEGs in 10 class folders.

Studio's import (``apps.datasets.services.import_inline``: parse, a process pool,
JPEG ``draft()`` thumbnails, staging, one commit, mirror bulk-load) against a naive
single-process loop doing the same work per image: read, sha256, open + verify,
full decode, thumbnail, save the thumbnail, copy the image, write a metadata
JSON (no fsync in either: Studio flushes once per import with ``syncfs``).

The baseline runs before and after Studio and its rate is averaged over both runs.
Prints images/s of both and the ratio (target ≥ 2x on 2 cores).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

N_IMAGES = int(os.environ.get("BENCH_IMPORT_IMAGES", "5000"))
N_CLASSES = 10
SIZE = (640, 480)


def setup_django(root: Path) -> None:
    """Django on a throw-away workspace + SQLite file (or the one already set up in this process)."""
    import django
    from django.apps import apps

    if apps.ready:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ["STUDIO_TEST_ROOT"] = str(root)
    os.environ["STUDIO_DB_PATH"] = str(root / "bench.sqlite3")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def new_project(name: str) -> str:
    from apps.projects.services import project_create
    from studio.storage.paths import new_id

    return project_create(f"{name} {new_id()}", "classification").id


_BACKGROUNDS: list[Any] = []


def _make_image(args: tuple[Path, int]) -> None:
    """A photo-like JPEG: one of 16 smooth, slightly noisy backgrounds plus random shapes."""
    import numpy as np
    from PIL import Image, ImageDraw

    path, seed = args
    rng = np.random.default_rng(seed)
    w, h = SIZE
    if not _BACKGROUNDS:
        x = np.linspace(0, 1, w)[None, :]
        y = np.linspace(0, 1, h)[:, None]
        for k in range(16):
            r = np.random.default_rng(10_000 + k)
            arr = np.empty((h, w, 3), np.float32)
            for c in range(3):
                arr[..., c] = r.uniform(60, 190) + 50 * np.sin(
                    6 * x * r.uniform(0.5, 2) + c
                ) * np.cos(4 * y * r.uniform(0.5, 2))
            arr += r.normal(0, 5, arr.shape)
            _BACKGROUNDS.append(Image.fromarray(arr.clip(0, 255).astype(np.uint8)))
    img = _BACKGROUNDS[seed % len(_BACKGROUNDS)].copy()
    draw = ImageDraw.Draw(img)
    for _ in range(8):
        x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        size = int(rng.integers(20, 160))
        draw.ellipse(
            (x0, y0, x0 + size, y0 + size), fill=tuple(int(v) for v in rng.integers(0, 255, 3))
        )
    img.save(path, "JPEG", quality=90)


def generate(root: Path, n: int) -> Path:
    jobs = []
    for i in range(n):
        folder = root / f"class_{i % N_CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        jobs.append((folder / f"img_{i:05d}.jpg", i))
    with concurrent.futures.ProcessPoolExecutor(os.cpu_count() or 2) as pool:
        list(pool.map(_make_image, jobs, chunksize=32))
    return root


def naive_import(root: Path, out: Path) -> int:
    """The baseline: one process, one image at a time, full decode, no staging."""
    from PIL import Image

    count = 0
    for path in sorted(root.rglob("*.jpg")):
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        img = Image.open(io.BytesIO(data))
        img.verify()
        img = Image.open(io.BytesIO(data))
        img.load()
        width, height = img.size
        img.thumbnail((256, 256))
        (out / "thumbs").mkdir(parents=True, exist_ok=True)
        img.convert("RGB").save(out / "thumbs" / f"{sha}.jpg", "JPEG", quality=85)
        (out / "images").mkdir(parents=True, exist_ok=True)
        (out / "images" / f"{sha}.jpg").write_bytes(data)
        (out / "meta").mkdir(parents=True, exist_ok=True)
        meta = {"id": sha[:16], "original_name": str(path.relative_to(root)), "width": width,
                "height": height, "format": "JPEG", "bytes": len(data), "sha256": sha,
                "label": path.parent.name}  # fmt: skip
        (out / "meta" / f"{sha[:16]}.json").write_text(json.dumps(meta))
        count += 1
    return count


def main() -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-import-"))
    try:
        setup_django(tmp)
        from apps.datasets import conf
        from apps.datasets.services import import_inline

        started = time.perf_counter()
        source = generate(tmp / "source", N_IMAGES)
        size_mb = sum(p.stat().st_size for p in source.rglob("*.jpg")) / 2**20
        print(f"   generated {N_IMAGES} JPEGs {SIZE[0]}x{SIZE[1]} ({size_mb:.0f} MiB) in "
              f"{time.perf_counter() - started:.1f}s", flush=True)  # fmt: skip

        # baseline, Studio, baseline again: the baseline rate is averaged over both runs,
        # so a change in background load during the run biases neither side
        naive_s = 0.0
        naive_count = 0
        rates: list[float] = []
        studio_s = 0.0
        project_id = new_project("Bench import")
        for step in ("baseline", "studio", "baseline"):
            started = time.perf_counter()
            if step == "baseline":
                count = naive_import(source, tmp / f"naive{len(rates)}")
                elapsed = time.perf_counter() - started
                naive_s, naive_count = naive_s + elapsed, naive_count + count
                rates.append(count / elapsed)
                print(
                    f"   baseline (1 process, full decode): {count / elapsed:.1f} images/s",
                    flush=True,
                )
                shutil.rmtree(tmp / f"naive{len(rates) - 1}", ignore_errors=True)
                continue
            report = import_inline(project_id, str(source), "class_folders")
            studio_s = time.perf_counter() - started
            assert report.added == N_IMAGES, report.issues[:5]
            print(f"   Studio ({conf.import_workers()} processes, draft decode, staged commit): "
                  f"{N_IMAGES / studio_s:.1f} images/s", flush=True)  # fmt: skip
        workers = conf.import_workers()
        ratio = (N_IMAGES / studio_s) / (naive_count / naive_s)
        print(f"   ratio Studio / baseline: {ratio:.2f}x (target ≥ 2x)")
        return {
            "images": N_IMAGES, "image_size": list(SIZE), "source_mib": round(size_mb, 1),
            "cpus": os.cpu_count(), "workers": workers,
            "baseline_images_per_s": round(naive_count / naive_s, 1),
            "baseline_runs_images_per_s": [round(r, 1) for r in rates],
            "studio_images_per_s": round(N_IMAGES / studio_s, 1),
            "baseline_seconds": round(naive_s, 2), "studio_seconds": round(studio_s, 2),
            "ratio": round(ratio, 2), "target_ratio": 2.0, "ok": ratio >= 2.0,
            "load_average": os.getloadavg()[0],
        }  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(main())
