"""CPU inference latency: ONNX Runtime on the exported file vs PyTorch eager on the model.

For ResNet-18 and MobileNetV3-Small (random init, 10 classes, 224 px — latency does not
depend on the weights) the model is exported by Studio's ONNX format (opset 17) and both
runtimes run the SAME inputs with the SAME thread count: ``torch.set_num_threads(n)`` and
ONNX Runtime ``intra_op_num_threads = n`` (``inter_op = 1``). Reported per model: median
and p90 milliseconds for one image and for a batch of 32, and ``ratio`` = PyTorch median /
ONNX Runtime median (> 1: ONNX Runtime is faster). The exported file is also checked to
give the same outputs (max |diff|), so the comparison is between equal computations. The
two runtimes are timed alternately, so load from other processes affects both alike.

Environment: ``BENCH_EXPORT_THREADS`` (comma list, default "1,<min(4, cores)>"), ``BENCH_EXPORT_REPS``
(single-image repetitions, default 30; batch-32 uses a fifth of it, at least 5).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODELS = ("resnet18", "mobilenet_v3_small")
IMAGE_SIZE = 224
CLASSES = 10


def _stats(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {"median_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[min(len(times) - 1, int(0.9 * len(times)))], 3)}  # fmt: skip


def _paired(
    a: Callable[[], Any], b: Callable[[], Any], reps: int, warmup: int = 3
) -> tuple[dict[str, float], dict[str, float]]:
    """Time ``a`` and ``b`` alternately (order flipped each round), so that load from other
    processes on a shared machine hits both alike instead of biasing whichever ran second."""
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(reps):
        for fn, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            started = time.perf_counter()
            fn()
            out.append(1000 * (time.perf_counter() - started))
    return _stats(ta), _stats(tb)


def _spec(key: str) -> Any:
    from studio.ml.catalog import IMAGENET_MEAN, IMAGENET_STD
    from studio.ml.checkpoints import CheckpointMeta, build_metadata
    from studio.ml.export.base import ExportSpec
    from studio.ml.tasks.registry import load_task

    task = load_task("classification")
    config = task.make_config({"model": key, "image_size": IMAGE_SIZE})
    names = [f"class{i}" for i in range(CLASSES)]
    meta = build_metadata(task=task, config=config, num_outputs=CLASSES, class_names=names,
                          task_state={"class_ids": list(range(CLASSES))},
                          mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))  # fmt: skip
    return ExportSpec(CheckpointMeta.from_dict(meta), "bench", "bench", "bench", "none", opset=17)


def measure(key: str, threads: int, reps: int, folder: Path) -> dict[str, Any]:
    import numpy as np
    import torch

    from studio.ml.catalog import build_model
    from studio.ml.export.onnx_format import OnnxFormat, load_onnx

    torch.manual_seed(0)
    model = build_model(key, CLASSES).eval()
    path = folder / f"{key}.onnx"
    started = time.perf_counter()
    with torch.no_grad():
        OnnxFormat().export(model, torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE), path, _spec(key))
    export_s = time.perf_counter() - started
    runner = load_onnx(path, folder, threads=threads).run
    rng = np.random.default_rng(0)
    result: dict[str, Any] = {
        "export_s": round(export_s, 2),
        "file_mb": round(path.stat().st_size / 2**20, 1),
    }
    for label, batch, n in (("single", 1, reps), ("batch32", 32, max(5, reps // 5))):
        x = rng.standard_normal((batch, 3, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
        xt = torch.from_numpy(x)

        def eager(xt: torch.Tensor = xt) -> Any:
            with torch.inference_mode():
                return model(xt)

        def ort(x: np.ndarray = x) -> Any:
            return runner(x)

        with torch.inference_mode():
            diff = float(np.abs(model(xt).numpy() - runner(x)).max())
        torch_t, ort_t = _paired(eager, ort, n)
        result[label] = {
            "batch": batch, "reps": n, "pytorch": torch_t, "onnxruntime": ort_t,
            "ratio": round(torch_t["median_ms"] / ort_t["median_ms"], 2),
            "max_abs_diff": diff,
        }  # fmt: skip
    return result


def thread_counts() -> list[int]:
    """``BENCH_EXPORT_THREADS`` ("1,4"), default 1 and min(4, cores)."""
    raw = os.environ.get("BENCH_EXPORT_THREADS", f"1,{min(4, os.cpu_count() or 1)}")
    return sorted({max(1, int(v)) for v in raw.split(",") if v.strip()})


def main() -> dict[str, Any]:
    import onnxruntime
    import torch

    reps = int(os.environ.get("BENCH_EXPORT_REPS", "30"))
    out: dict[str, Any] = {
        "image_size": IMAGE_SIZE, "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__, "cpu_count": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2), "threads": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for threads in thread_counts():
            torch.set_num_threads(threads)
            models: dict[str, Any] = {}
            for key in MODELS:
                r = models[key] = measure(key, threads, reps, Path(tmp))
                print(f"   {threads} thread(s) {key}: single {r['single']['pytorch']['median_ms']:.1f} ms "
                      f"(PyTorch) vs {r['single']['onnxruntime']['median_ms']:.1f} ms (ORT) → "
                      f"x{r['single']['ratio']}; batch 32 {r['batch32']['pytorch']['median_ms']:.0f} vs "
                      f"{r['batch32']['onnxruntime']['median_ms']:.0f} ms → x{r['batch32']['ratio']}", flush=True)  # fmt: skip
            out["threads"][str(threads)] = models
    out["load_average_at_end"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
