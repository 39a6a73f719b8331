"""``python -m bench [name …]``: run every benchmark module in bench/ (or the named ones).

Each module's ``main()`` measures Studio against a baseline in the same run, prints
the ratio, and returns a dict; this runner writes it to ``bench/results/<name>.json``.

Every benchmark runs in a process of its own, under a time limit (``BENCH_TIMEOUT``
seconds, default 1800): benchmarks configure Django settings, workspaces and Redis
for themselves, and a later one must not inherit an earlier one's. The exit status
is non-zero when any benchmark failed or ran out of time.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "1800"))


def all_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_"))


def run_one(name: str) -> int:
    """Run ``bench.<name>`` in this process and write its JSON; 0 on success."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    started = time.perf_counter()
    try:
        result = importlib.import_module(f"bench.{name}").main()
    except Exception as exc:
        print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
        return 1
    result = {"benchmark": name, "seconds": round(time.perf_counter() - started, 2), **result}
    out = HERE / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"   wrote {out.relative_to(HERE.parent)}", flush=True)
    return 0


def run_isolated(name: str) -> int:
    """Run one benchmark in a fresh interpreter with a time limit."""
    print(f"== bench.{name}", flush=True)
    # Own process group: on a timeout (or Ctrl-C) the workers, Daphne and Redis a
    # benchmark started go down with it instead of serving the next benchmark.
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "--one", name], cwd=HERE.parent, start_new_session=True
    )
    try:
        return proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"   FAILED: bench.{name} ran past {TIMEOUT:.0f} s (BENCH_TIMEOUT)", flush=True)
        return 1
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it left behind, too
        proc.wait()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"] and len(argv) == 2:
        return run_one(argv[1])
    unknown = sorted(set(argv) - set(all_names()))
    if unknown:
        print(f"No benchmark named {', '.join(unknown)}; known: {', '.join(all_names())}")
        return 2
    failed = [name for name in (argv or all_names()) if run_isolated(name) != 0]
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
