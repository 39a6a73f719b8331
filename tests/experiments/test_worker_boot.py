"""Worker processes import the ML stack when they boot (apps/core/worker_boot.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.core import worker_boot


def test_middleware_is_registered() -> None:
    assert "apps.core.worker_boot.PreloadML" in settings.DRAMATIQ_BROKER["MIDDLEWARE"]


def test_preload_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_WORKER_PRELOAD", "0")
    monkeypatch.setattr(worker_boot, "PRELOADED", {})
    called: list[bool] = []
    monkeypatch.setattr(worker_boot, "preload_ml", lambda: called.append(True))
    worker_boot.PreloadML().after_process_boot(None)  # type: ignore[arg-type]
    assert called == [] and worker_boot.PRELOADED == {}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_fresh_worker_has_torch_before_any_job(start_worker: Any, tmp_path: Path) -> None:
    """A real ``rundramatiq`` process, no job sent: torch & co. are imported at boot."""
    proc = start_worker()
    log = tmp_path / "worker-0.log"
    deadline = time.monotonic() + 240
    text = ""
    while "ready for action" not in text:
        assert proc.poll() is None, f"the worker exited:\n{text}"
        assert time.monotonic() < deadline, f"the worker did not start:\n{text}"
        time.sleep(0.2)
        text = log.read_text(errors="replace")
    preloaded = text.find("ML stack preloaded")
    assert preloaded != -1, text
    # imported while booting (before the process reports ready), not by a job
    assert preloaded < text.find("ready for action"), text
    assert "already imported" not in text[preloaded : text.find("\n", preloaded)], text
    assert "run_job" not in text  # no job was sent, so none ran
