"""The framework-free core never imports Django, DRF, Channels or Dramatiq (nor the apps).

import-linter checks the same in ``make lint``; this test keeps the rule in ``make test``
and covers every package of the core, including ones added later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STUDIO = Path(__file__).resolve().parent.parent / "studio"
FORBIDDEN = (
    "django",
    "rest_framework",
    "channels",
    "dramatiq",
    "django_dramatiq",
    "apps",
    "daphne",
)
# The Django project modules of the studio package; everything else in it is the core.
DJANGO_SIDE = {"settings.py", "settings_production.py", "urls.py", "asgi.py"}


def core_files() -> list[Path]:
    return [p for p in STUDIO.rglob("*.py") if not (p.parent == STUDIO and p.name in DJANGO_SIDE)]


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_has_files() -> None:
    names = {p.relative_to(STUDIO).parts[0] for p in core_files()}
    assert {"storage", "ml", "runtime"} <= names


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(STUDIO)))
def test_core_module_is_framework_free(path: Path) -> None:
    bad = imported_roots(path) & set(FORBIDDEN)
    assert not bad, f"{path.relative_to(STUDIO.parent)} imports {sorted(bad)}"


def test_checker_catches_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("from django.conf import settings\nimport dramatiq.brokers\n")
    assert imported_roots(sample) >= {"django", "dramatiq"}
