"""One vocabulary across pages: the validation accuracy of the same checkpoint reads the same
(label and number) on the Training and the Evaluation page, at 1400 and 500 px."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from studio.ml.vocabulary import format_value, metric_label
from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.evaluation.fixtures import Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1400, 500])
def test_same_metric_same_words_on_training_and_evaluation(
    logged_in_page: Any, api: Any, workspace: Workspace, evaluated: Template, width: int
) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 900})
    pid, eid = evaluated.project_id, evaluated.experiment_id
    experiment = json.loads(
        (workspace.project_dir(pid) / "experiments" / eid / "experiment.json").read_text()
    )
    best = format_value("val_accuracy", evaluated.best_value)
    assert best.endswith(" %") and "." in best  # "61.7 %", not 0.6167

    # ---- Training: the list card, the run panel's stats, the charts
    # generous: the first Training page of a process imports torch (the task's describe())
    page.goto(f"{page.base_url}/projects/{pid}/training/?exp={eid}", timeout=120_000)
    card = page.get_by_test_id("item-metric")
    expect(card).to_have_text(
        f"best: Val accuracy {best} · Val loss "
        f"{format_value('val_loss', experiment['final_metrics']['val_loss'])}"
    )
    expect(page.get_by_test_id("stat-best-label")).to_have_text(
        "Best validation accuracy (higher is better)"
    )
    expect(page.get_by_test_id("stat-best")).to_contain_text(best)
    expect(page.get_by_test_id("stat-label-val_accuracy")).to_have_text("Validation accuracy")
    final = experiment["final_metrics"]
    expect(page.get_by_test_id("stat-val_accuracy")).to_have_text(
        format_value("val_accuracy", final["val_accuracy"])
    )
    expect(page.get_by_test_id("stat-label-train_loss")).to_have_text("Training loss")
    expect(page.get_by_test_id("stat-train_loss")).to_have_text(
        format_value("train_loss", final["train_loss"])
    )
    page.wait_for_function(
        "() => document.querySelector('[data-testid=metric-chart]').dataset.points > 0"
    )
    chart = page.evaluate(
        "() => { const c = Chart.getChart(document.querySelector('[data-testid=metric-chart]'));"
        " return { legend: c.data.datasets.map((d) => d.label),"
        " ticks: c.scales.y.ticks.map((t) => t.label) }; }"
    )
    assert chart["legend"][0] == "Val accuracy"
    assert set(chart["legend"]) == {"Val accuracy", "Val precision", "Val recall", "Val F1"}
    assert chart["ticks"] and all(t.endswith(" %") for t in chart["ticks"]), chart["ticks"]
    loss_legend = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-testid=loss-chart]'))"
        ".data.datasets.map((d) => d.label)"
    )
    assert loss_legend == ["Train loss (batches)", "Train loss", "Val loss"]
    training_card = card.inner_text()
    screenshot(page, f"vocabulary-training-{width}")

    # ---- Evaluation: the list card and the validation view of the same checkpoint
    page.goto(f"{page.base_url}/projects/{pid}/evaluation/?experiment={eid}", timeout=120_000)
    eval_card = page.get_by_test_id("item-metric")
    expect(eval_card).to_have_text(f"best: Val accuracy {best}")
    assert training_card.startswith(eval_card.inner_text())  # the very same words
    agg = api.get(f"/api/evaluation/{pid}/{eid}").json()["aggregate"]
    page.get_by_test_id("tab-val").click()
    accuracy = page.get_by_test_id("metric-accuracy")
    expect(accuracy).to_have_text(format_value("accuracy", agg["subsets"]["val"]["accuracy"]))
    # best.ckpt on the validation images: the number training logged, written the same way
    assert accuracy.inner_text() == best
    header = page.get_by_test_id("metrics-table").locator("th").nth(1)
    assert header.inner_text() == metric_label("accuracy") == "Accuracy"
    assert metric_label("val_accuracy") == f"Validation {header.inner_text().lower()}"
    expect(page.get_by_test_id("metric-ece")).to_have_text(
        format_value("ece", agg["subsets"]["val"]["ece"])
    )
    per_class = page.get_by_test_id("class-table").locator("tbody td:nth-child(2)")
    expect(per_class.first).to_have_text(
        format_value("precision", agg["subsets"]["val"]["per_class"][0]["precision"])
    )
    ticks = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-testid=class-chart]'))"
        ".scales.y.ticks.map((t) => t.label)"
    )
    assert ticks and all(t.endswith(" %") for t in ticks), ticks
    summary = page.get_by_test_id("evaluation-summary").inner_text()
    assert f"Accuracy {format_value('accuracy', agg['overall']['accuracy'])}" in summary
    screenshot(page, f"vocabulary-evaluation-{width}")
