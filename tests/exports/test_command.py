"""``manage.py export``: in-process export with progress, path, verdict and exit codes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.exports.models import Export
from studio.ml.export.store import scan_exports
from studio.storage.paths import Workspace
from tests.conftest import ROOT, subprocess_env

pytestmark = pytest.mark.django_db


def test_export_command_prints_path_and_validation(
    db_trained: tuple[str, str], workspace: Workspace
) -> None:
    pid, eid = db_trained
    out = io.StringIO()
    call_command(
        "export",
        pid,
        eid,
        "--format",
        "onnx",
        "--checkpoint",
        "best.ckpt",
        "--opset",
        "17",
        stdout=out,
    )
    text = out.getvalue()
    [found] = scan_exports(workspace, pid, eid)
    assert found.export and found.export.validation and found.export.validation.passed
    path = Path(text.split(f"Export {found.id}: ")[1].split(" (")[0])
    assert path.is_file() and path.name == "model.onnx"
    assert "[1/33] Exporting to ONNX" in text and "Parity check" in text
    assert "Validation passed" in text
    assert Export.objects.get(id=found.id).validation_passed is True


def test_export_command_errors_are_sentences(db_trained: tuple[str, str]) -> None:
    pid, eid = db_trained
    with pytest.raises(CommandError, match="Unknown export format 'tflite'"):
        call_command("export", pid, eid, "--format", "tflite", stdout=io.StringIO())
    with pytest.raises(CommandError, match="opset must be a whole number from 13 to 23"):
        call_command("export", pid, eid, "--opset", "9", stdout=io.StringIO())
    with pytest.raises(CommandError, match=r"has no checkpoint nope\.ckpt"):
        call_command("export", pid, eid, "--checkpoint", "nope.ckpt", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)  # the child process writes to the same SQLite file
def test_export_command_exit_status(
    db_trained: tuple[str, str], workspace: Workspace, tmp_path: Path
) -> None:
    """A real ``manage.py`` process: 1 and a sentence on stderr for an unknown experiment."""
    pid, _ = db_trained
    proc = subprocess.run(
        [sys.executable, "manage.py", "export", pid, "ghost"], cwd=ROOT,
        env=subprocess_env(workspace), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "No experiment 'ghost' in this project" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_failed_validation_exits_2(db_trained: tuple[str, str], monkeypatch: Any) -> None:
    from studio.ml.export import runner

    pid, eid = db_trained
    original = runner.run_export
    monkeypatch.setattr("apps.exports.services.run_export",
                        lambda *a, **k: original(*a, **{**k, "atol": 0.0, "rtol": 0.0}))  # fmt: skip
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("export", pid, eid, stdout=io.StringIO(), stderr=err)
    assert exited.value.code == 2 and "Validation FAILED" in err.getvalue()
