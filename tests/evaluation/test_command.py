"""``manage.py evaluate``: in-process, prints the accuracy; a sentence and exit 1 on errors."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from apps.evaluation.models import EvalResult, Evaluation
from studio.ml import evaluation_files
from studio.storage.paths import Workspace
from tests.conftest import ROOT, subprocess_env
from tests.evaluation.fixtures import Template

pytestmark = pytest.mark.django_db


def test_evaluate_command(workspace: Workspace, trained: Template) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate", trained.project_id, trained.experiment_id, "--checkpoint", "last.ckpt",
                 "--subsets", "test,val", "--batch-size", "16", stdout=out, stderr=err)  # fmt: skip
    text = out.getvalue()
    paths = evaluation_files.evaluation_paths(workspace, trained.project_id, trained.experiment_id)
    agg = evaluation_files.read_aggregate(paths)
    assert agg.overall is not None
    assert text.startswith(
        f"Accuracy {agg.overall.accuracy:.4f} ({agg.overall.correct}/{agg.overall.count} images, val+test) with last.ckpt"
    )
    assert "  test: accuracy" in text and "  val: accuracy" in text
    record = evaluation_files.read_record(paths)
    assert record is not None and record.status == "completed" and record.job_id is None
    assert Evaluation.objects.get().status == "completed"
    assert EvalResult.objects.count() == agg.overall.count


def test_evaluate_command_errors(trained: Template) -> None:
    with pytest.raises(CommandError, match=r"Checkpoint nope\.ckpt does not exist"):
        call_command(
            "evaluate", trained.project_id, trained.experiment_id, "--checkpoint", "nope.ckpt"
        )
    with pytest.raises(CommandError, match="Choose at least one subset"):
        call_command("evaluate", trained.project_id, trained.experiment_id, "--subsets", ",")
    with pytest.raises(CommandError, match="No experiment 'nope'"):
        call_command("evaluate", trained.project_id, "nope")


@pytest.mark.slow  # a fresh Python with Django and torch: ~20-40 s on two busy cores
@pytest.mark.django_db(transaction=True)
def test_evaluate_command_exit_status(workspace: Workspace, trained: Template) -> None:
    """As a user runs it: a non-zero exit and one readable line, no traceback."""
    proc = subprocess.run(
        [sys.executable, "manage.py", "evaluate", trained.project_id, trained.experiment_id, "--subsets", "holdout"],
        cwd=ROOT, env=subprocess_env(workspace), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Unknown subset 'holdout': use train, val or test" in proc.stderr
    assert "Traceback" not in proc.stderr
