"""``python -m bench [name …]``: run every benchmark module in bench/ (or the named ones).

Each module's ``main()`` measures Studio against a baseline in the same run, prints
the ratio, and returns a dict; this runner writes it to ``bench/results/<name>.json``.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    names = argv or sorted(
        m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_")
    )
    failed = 0
    for name in names:
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        try:
            result = importlib.import_module(f"bench.{name}").main()
        except Exception as exc:
            print(f"   FAILED: {type(exc).__name__}: {exc}")
            failed += 1
            continue
        result = {"benchmark": name, "seconds": round(time.perf_counter() - started, 2), **result}
        out = HERE / "results" / f"{name}.json"
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"   wrote {out.relative_to(HERE.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
