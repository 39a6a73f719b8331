"""The anomaly-detection and regression tasks' hooks, without training."""

from __future__ import annotations

import pytest
import torch

from studio.errors import ValidationFailed
from studio.ml.tasks.registry import load_task
from studio.storage.dataset_schemas import Annotations, ClassInfo, DatasetFile, ImageRecord


def record(i: int, **annotations: object) -> ImageRecord:
    return ImageRecord(id=f"{i:016x}", original_name=f"{i}.png", path=f"images/{i}.png",
                       thumb_path=f"thumbs/{i}.png", width=8, height=8, format="PNG", bytes=1,
                       sha256="0" * 64, import_id="imp", annotations=Annotations(**annotations))  # type: ignore[arg-type]  # fmt: skip


CLASSES = [ClassInfo(id=0, name="Good", color="#000000"), ClassInfo(id=3, name="scratch", color="#ff0000"),
           ClassInfo(id=5, name="dent", color="#00ff00")]  # fmt: skip
ANOMALY = DatasetFile(project_id="p", classes=CLASSES)
REGRESSION = DatasetFile(project_id="p", target_names=["w", "h"])


def test_anomaly_state_targets_and_balanced_weight() -> None:
    task = load_task("anomaly_detection")
    train = [record(i, label=label) for i, label in enumerate([0, 0, 0, 0, 0, 0, 3, 5])]
    config = task.make_config({"class_weights": "balanced"})
    state = task.fit_state(train, ANOMALY, config)
    assert state["anomalous_ids"] == [3, 5] and state["pos_weight"] == pytest.approx(3.0)
    task.load_state(state)
    assert [task.target_from_record(r, ANOMALY) for r in train[5:]] == [0.0, 1.0, 1.0]
    assert task.num_outputs(ANOMALY) == 1
    logits = torch.tensor([[-10.0], [10.0]])
    loss = task.compute_loss(logits, torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert float(loss) < 1e-3
    preds = task.predict(logits)
    assert [p["anomalous"] for p in preds] == [False, True] and preds[1]["score"] > 0.99
    exported = task.export_module(torch.nn.Identity())
    assert float(exported(torch.tensor([[0.0]]))) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("classes", "labels", "says"),
    [
        (CLASSES[1:], [3, 5], "class named 'good'"),
        (CLASSES, [0, 0], "no anomalous image"),
        (CLASSES, [3, 5], "no good image"),
    ],
)
def test_anomaly_refuses_unusable_training_sets(
    classes: list[ClassInfo], labels: list[int], says: str
) -> None:
    task = load_task("anomaly_detection")
    dataset = DatasetFile(project_id="p", classes=classes)
    with pytest.raises(ValidationFailed) as err:
        task.fit_state(
            [record(i, label=x) for i, x in enumerate(labels)], dataset, task.make_config()
        )
    assert says in err.value.message


def test_regression_normalises_and_reports_original_units() -> None:
    task = load_task("regression")
    train = [record(i, target=[float(10 * i), 100.0]) for i in range(4)]  # h constant
    state = task.fit_state(train, REGRESSION, task.make_config({"loss": "huber"}))
    assert state["mean"] == [15.0, 100.0] and state["std"][1] == 1.0 and state["loss"] == "huber"
    task.load_state(state)
    z = task.target_from_record(train[3], REGRESSION)
    assert z.dtype == torch.float32 and z[1] == 0 and z[0] == pytest.approx(15 / state["std"][0])
    outputs = torch.stack([task.target_from_record(r, REGRESSION) for r in train])
    preds, truth = task.metric_inputs(outputs, outputs)
    assert torch.allclose(truth, preds)
    assert torch.allclose(preds, torch.tensor([[0.0, 100], [10, 100], [20, 100], [30, 100]]))
    assert [p["values"] for p in task.predict(outputs)][2] == pytest.approx([20.0, 100.0])
    exported = task.export_module(torch.nn.Identity())
    assert torch.allclose(exported(outputs), preds)
    meta = task.export_output(2)
    assert meta["output_name"] == "values" and "target_mean" in meta
    assert not task.usable(record(9, target=[1.0]), REGRESSION)  # one value for two targets
    for loss in ("mse", "l1", "huber"):
        task.load_state({**state, "loss": loss})
        assert float(task.compute_loss(outputs, outputs)) == 0.0


def test_regression_needs_targets() -> None:
    task = load_task("regression")
    with pytest.raises(ValidationFailed):
        task.fit_state([], DatasetFile(project_id="p"), task.make_config())


@pytest.mark.parametrize(
    ("name", "shown", "hidden"),
    [
        ("classification", {"label_smoothing", "class_weights"}, {"loss"}),
        ("anomaly_detection", {"class_weights"}, {"loss", "label_smoothing"}),
        ("regression", {"loss"}, {"label_smoothing", "class_weights"}),
    ],
)
def test_describe_shows_only_the_settings_a_task_uses(
    name: str, shown: set[str], hidden: set[str]
) -> None:
    info = load_task(name).describe()
    names = {f["name"] for f in info["hyperparameters"]}
    assert shown <= names and not hidden & names
