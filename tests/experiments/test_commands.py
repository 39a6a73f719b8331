"""``manage.py train`` (in-process training) and ``manage.py fetch_weights`` (offline)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.experiments import store
from apps.experiments.models import Experiment
from studio.storage.paths import Workspace

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_train_command_runs_a_seeded_experiment(
    digits: tuple[str, str], workspace: Workspace
) -> None:
    pid, sid = digits
    out = io.StringIO()
    call_command(
        "train", pid, "--split", sid, "--model", "resnet18", "--epochs", "2", "--batch-size", "16",
        "--image-size", "16", "--lr", "0.01", "--name", "CLI run",
        "--set", "augment.random_resized_crop=false", "--set", "warmup_epochs=0",
        stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "Experiment 'CLI run'" in text and "epoch 1/2" in text and "epoch 2/2" in text
    assert "Completed 2 epoch(s); best val_accuracy" in text
    (eid,) = store.experiment_ids(workspace, pid)
    exp = store.load(workspace, pid, eid)
    assert exp.status == "completed" and exp.epochs_done == 2 and exp.lease_owner is None
    assert exp.config["lr"] == 0.01 and exp.config["augment"]["random_resized_crop"] is False
    folder = store.experiment_dir(workspace, pid, eid)
    assert (folder / "checkpoints" / "best.ckpt").is_file() and (
        folder / "checkpoints" / "last.ckpt"
    ).is_file()
    assert [r["epoch"] for r in json.loads((folder / "metrics.json").read_text())] == [1, 2]
    assert Experiment.objects.get(id=eid).status == "completed"  # mirrored
    # the image cache is per project, so the next run over this split reuses it
    assert list(store.training_cache_dir(workspace, pid).glob("*.npy"))


def test_train_command_bad_arguments_are_one_sentence(
    digits: tuple[str, str], workspace: Workspace
) -> None:
    pid, sid = digits
    with pytest.raises(CommandError, match=r"lr: .*greater than 0"):
        call_command("train", pid, "--split", sid, "--lr", "-1")
    with pytest.raises(CommandError, match=r"epochs: .*greater than or equal to 1.*batch_size"):
        call_command("train", pid, "--split", sid, "--epochs", "0", "--batch-size", "0")
    with pytest.raises(CommandError, match="Unknown model 'vgg99'"):
        call_command("train", pid, "--split", sid, "--model", "vgg99")
    with pytest.raises(CommandError, match="No split 'snope'"):
        call_command("train", pid, "--split", "snope")
    with pytest.raises(CommandError, match="No project 'pnope'"):
        call_command("train", "pnope", "--split", sid)
    with pytest.raises(CommandError, match=r"not on this machine.*from scratch"):
        call_command("train", pid, "--split", sid, "--pretrained")
    with pytest.raises(CommandError, match="KEY=VALUE"):
        call_command("train", pid, "--split", sid, "--set", "novalue")
    assert store.experiment_ids(workspace, pid) == []  # nothing half-made


def test_fetch_weights_offline_is_a_sentence() -> None:
    with pytest.raises(
        CommandError, match="Cannot download weights for ResNet-18: STUDIO_OFFLINE=1"
    ):
        call_command("fetch_weights", "resnet18")
    with pytest.raises(CommandError, match="Unknown model 'nope'"):
        call_command("fetch_weights", "nope")
    out = io.StringIO()
    call_command("fetch_weights", "resnet18", "--list", stdout=out)
    assert "resnet18" in out.getvalue() and "missing" in out.getvalue()
