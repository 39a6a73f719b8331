"""The Training page in Chromium without a worker: the form's data-driven defaults and time
estimate, and a run panel fed a scripted run through the real SSE stream (events appended
to the job logs by the test, as a trainer would) — the list entry follows the panel, a
resume clears the stop hint, throughput shows only once measured, finished runs link to the
Evaluation page, and a run stuck at chance level says so."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.experiments import services, store
from studio.storage import job_store
from studio.storage.experiment_schemas import ExperimentFile, ExperimentStatus, MetricValue
from studio.storage.jsonio import write_json_atomic
from studio.storage.paths import Workspace
from studio.storage.schemas import JobFile, JobStatus, utcnow
from tests.conftest import screenshot
from tests.experiments.helpers import FAST_CONFIG

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WIDTHS = [1400, 500]


@pytest.fixture(autouse=True)
def warm_server(live_server_url: str) -> str:
    """The first request makes Daphne import every app (torch included): done with a patient
    client before the browser's 15 s page timeout applies."""
    import urllib.request

    urllib.request.urlopen(f"{live_server_url}/login/", timeout=180).read()
    return live_server_url


def open_training(page: Any, pid: str, width: int, query: str = "") -> None:
    page.set_viewport_size({"width": width, "height": 900})
    # the first Training page makes the server import torch: patient on a busy machine
    page.goto(f"{page.base_url}/projects/{pid}/training/{query}", timeout=120_000)


@pytest.mark.parametrize("width", WIDTHS)
def test_form_defaults_follow_the_data_and_show_the_time_per_epoch(
    digits: tuple[str, str], logged_in_page: Any, width: int
) -> None:
    pid, _ = digits
    page = logged_in_page
    open_training(page, pid, width, "?new=1")
    size = page.get_by_test_id("field-image_size")
    expect(size).to_have_value("32")  # digits are 32 px: not the 224 px default
    expect(page.get_by_test_id("image-size-note")).to_contain_text("median size 32×32")  # noqa: RUF001
    estimate = page.get_by_test_id("epoch-estimate")
    expect(estimate).to_contain_text(re.compile(r"(≈|<) .+ per epoch on this machine.*\(estimate\)"))
    expect(estimate).to_contain_text("for 30 epochs")
    # model cards: names on one line (no "ResNet-/18"), parameter counts inside their card
    for card in page.locator(".tr-model").all():
        name = card.locator(".tr-model-head strong")
        box, card_box = name.bounding_box(), card.bounding_box()
        line = float(name.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20"))
        assert box["height"] < 1.5 * line, name.inner_text()
        params = card.locator(".tr-model-head .muted").bounding_box()
        assert params["x"] + params["width"] <= card_box["x"] + card_box["width"] + 0.5
        assert params["height"] < 1.5 * line
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    screenshot(page, f"training-form-{width}")

    # another model: the suggestion follows it; a size the user typed sticks
    page.get_by_test_id("model-efficientnet_b3").check(force=True)
    expect(size).to_have_value("32")
    size.fill("64")
    expect(estimate).to_contain_text("per epoch")
    page.get_by_test_id("model-resnet34").check(force=True)
    expect(size).to_have_value("64")
    expect(page.get_by_test_id("image-size-note")).to_contain_text(": 32 px.")


# -- a scripted run ------------------------------------------------------------------------


def metric_row(epoch: int, accuracy: float) -> dict[str, Any]:
    return {"epoch": epoch, "train_loss": 2.0 / epoch, "val_loss": 1.5 / epoch,
            "val_accuracy": accuracy, "val_f1": accuracy, "lr": 0.001, "time_s": 2.0}  # fmt: skip


class ScriptedRun:
    """Writes what a trainer writes: experiment.json, runs.json, the job and its events."""

    def __init__(self, ws: Workspace, pid: str, eid: str) -> None:
        self.ws, self.pid, self.eid = ws, pid, eid
        self.job_id = ""
        self.rows: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)

    def _heartbeat(self) -> None:
        """Like a live trainer: fresh heartbeats, so reads never think the run died."""
        while not self._stop.wait(3):
            if self.job_id and store.load(self.ws, self.pid, self.eid).status.value == "running":
                self.experiment(lambda exp: None)
                job_store.mutate(
                    self.ws, self.job_id, lambda job: setattr(job, "heartbeat_at", utcnow())
                )

    def close(self) -> None:
        self._stop.set()

    def experiment(self, change: Callable[[ExperimentFile], None]) -> None:
        def apply(exp: ExperimentFile) -> None:
            change(exp)
            exp.heartbeat_at = utcnow()

        store.mutate(self.ws, self.pid, self.eid, apply)

    def start(self) -> None:
        """A first run, as ``experiment_start`` + a worker's claim leave it."""
        job = job_store.create(self.ws, "train", {"project_id": self.pid}, self.pid)
        self.job_id = job.id
        store.add_run(self.ws, self.pid, self.eid, store.RunEntry(job_id=job.id))
        self.emit("queued", {})

        def running(exp: ExperimentFile) -> None:
            exp.status = ExperimentStatus.running
            exp.job_id = job.id

        self.experiment(running)
        self._beat.start()

    def follow_current(self) -> None:
        """The run a Resume click queued (its job exists, nothing claimed it)."""
        self.job_id = store.load(self.ws, self.pid, self.eid).job_id or ""

        def claimed(exp: ExperimentFile) -> None:
            exp.status = ExperimentStatus.running

        self.experiment(claimed)

    def emit(self, kind: str, data: dict[str, Any], status: JobStatus | None = None) -> None:
        def change(job: JobFile) -> None:
            job.status = status or (JobStatus.running if kind != "queued" else job.status)
            job.heartbeat_at = utcnow()

        job_store.append_event(self.ws, self.job_id, kind, data, change)

    def progress(self, done: int, eta: float) -> None:
        epoch, batch = divmod(done - 1, 4)
        self.emit("progress", {
            "done": done, "total": 12, "message": f"Epoch {epoch + 1}/3 · batch {batch + 1}/4",
            "stage": "train", "epoch": epoch + 1, "epochs": 3, "batch": batch + 1, "batches": 4,
            "loss": 2.0, "images_per_s": 0.0, "eta_s": eta,
        })  # fmt: skip

    def epoch(self, epoch: int, accuracy: float, best: bool) -> None:
        row = metric_row(epoch, accuracy)
        self.rows = [r for r in self.rows if r["epoch"] < epoch] + [row]
        write_json_atomic(
            store.experiment_dir(self.ws, self.pid, self.eid) / "metrics.json", self.rows
        )

        def done(exp: ExperimentFile) -> None:
            exp.epochs_done = epoch
            exp.final_metrics = {k: v for k, v in row.items() if k not in ("epoch", "time_s")}
            exp.last_checkpoint = "checkpoints/last.ckpt"
            if best:
                exp.best_checkpoint = "checkpoints/best.ckpt"
                exp.best_metric = MetricValue(name="val_accuracy", value=accuracy, epoch=epoch)

        self.experiment(done)
        if best:
            self.emit("checkpoint_saved", {"kind": "best", "path": "checkpoints/best.ckpt",
                                           "epoch": epoch, "metric": "val_accuracy",
                                           "value": accuracy})  # fmt: skip
        self.emit("epoch_end", {"epoch": epoch, "epochs": 3, "metrics": row})

    def end(self, status: ExperimentStatus) -> None:
        def final(exp: ExperimentFile) -> None:
            exp.status = status
            exp.finished_at = utcnow() if status == ExperimentStatus.completed else None

        self.experiment(final)
        if status == ExperimentStatus.stopped:
            reason = "Stopped on request; resume continues from the last checkpoint"
            self.emit("stopped", {"status": "stopped", "reason": reason})
        else:
            self.emit("finished", {"status": "completed", "epochs_done": 3})
        self.emit("succeeded", {}, JobStatus.succeeded)


@pytest.fixture
def scripted(workspace: Workspace) -> Iterator[list[ScriptedRun]]:
    runs: list[ScriptedRun] = []
    yield runs
    for run in runs:
        run.close()


def test_a_live_run_keeps_list_and_panel_in_step(
    digits: tuple[str, str], workspace: Workspace, logged_in_page: Any, scripted: Any
) -> None:
    pid, sid = digits
    open_training(logged_in_page, pid, 1400, "?new=1")  # the server imports torch now
    exp = services.experiment_create(pid, sid, {**FAST_CONFIG, "epochs": 3}, "Scripted")
    run = ScriptedRun(workspace, pid, exp.id)
    scripted.append(run)
    run.start()
    run.emit("training_started", {"epochs": 3, "batches_per_epoch": 4, "start_epoch": 1})
    run.progress(1, 13.0)
    page = logged_in_page
    open_training(page, pid, 1400)
    eta = page.get_by_test_id("eta")
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    expect(eta).to_have_text("13 s left")  # one event: no throughput yet, never "0 images/s"
    page.wait_for_timeout(1100)
    run.progress(3, 11.0)
    expect(eta).to_contain_text(re.compile(r"11 s left · [0-9.]+ images/s"))
    assert " 0 images/s" not in eta.inner_text()

    item = page.get_by_test_id("item-metric")
    best = page.get_by_test_id("stat-best")
    run.epoch(1, 0.9, best=True)
    expect(best).to_contain_text("(epoch 1)")
    value = best.inner_text().split(" (epoch")[0]
    expect(item).to_contain_text(value)  # the list entry follows the same events
    run.epoch(2, 1.0, best=True)
    expect(best).to_contain_text("(epoch 2)")
    value2 = best.inner_text().split(" (epoch")[0]
    assert value2 != value
    expect(item).to_contain_text(value2)
    expect(page.get_by_test_id("item-status")).to_have_text("running")

    # stopped on request: the hint says so …
    run.emit("cancel_requested", {})
    run.end(ExperimentStatus.stopped)
    expect(page.get_by_test_id("run-status")).to_have_text("stopped")
    expect(page.get_by_test_id("run-hint")).to_contain_text("Stopped on request")
    expect(page.get_by_test_id("btn-evaluate")).to_be_visible()  # a stopped run has a checkpoint

    # … and after Resume (a fresh page replays the first run's events) it does not linger
    page.reload()
    expect(page.get_by_test_id("btn-resume")).to_be_visible()
    page.get_by_test_id("btn-resume").click()
    expect(page.get_by_test_id("run-status")).to_have_text("queued")
    run.follow_current()
    run.emit("training_started", {"epochs": 3, "batches_per_epoch": 4, "start_epoch": 3})
    run.progress(9, 5.0)
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    expect(page.get_by_test_id("item-status")).to_have_text("running")
    expect(page.get_by_test_id("run-hint")).not_to_contain_text("Stopped")
    expect(page.get_by_test_id("btn-stop")).to_have_text("■ Stop")  # not "Stopping…"
    expect(eta).to_have_text("5 s left")  # the new segment measures its own throughput
    expect(page.get_by_test_id("btn-evaluate")).to_be_hidden()

    run.epoch(3, 1.0, best=False)
    run.end(ExperimentStatus.completed)
    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    evaluate = page.get_by_test_id("btn-evaluate")
    expect(evaluate).to_be_visible()
    expect(evaluate).to_have_attribute("href", f"/projects/{pid}/evaluation/?experiment={exp.id}")
    expect(item).to_contain_text(value2)
    expect(page.get_by_test_id("run-warning")).to_have_count(0)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        expect(page.get_by_test_id("metric-chart")).to_have_attribute(
            "data-points", re.compile("[1-9]")
        )
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        screenshot(page, f"training-finished-{width}")
    evaluate.click()
    expect(page).to_have_url(re.compile(rf"/evaluation/\?experiment={exp.id}$"))


def test_a_run_at_chance_level_is_flagged(
    digits: tuple[str, str], workspace: Workspace, logged_in_page: Any, scripted: Any
) -> None:
    pid, sid = digits
    config = {**FAST_CONFIG, "model": "mobilenet_v3_small", "epochs": 3}
    exp = services.experiment_create(pid, sid, config, "Stuck")
    run = ScriptedRun(workspace, pid, exp.id)
    scripted.append(run)
    run.start()
    for epoch in (1, 2, 3):
        run.epoch(epoch, 0.1, best=epoch == 1)
    run.end(ExperimentStatus.completed)
    page = logged_in_page
    for width in WIDTHS:
        open_training(page, pid, width, f"?exp={exp.id}")
        warning = page.get_by_test_id("run-warning")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("chance level")
        expect(warning.locator("li").first).to_be_visible()
        expect(warning).to_contain_text("MobileNetV3")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        screenshot(page, f"training-chance-{width}")
