"""Model catalog, frozen backbones and pretrained weights handling (all offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studio.errors import ValidationFailed
from studio.ml import catalog, weights
from studio.ml.catalog import CATALOG, build_model, count_parameters
from studio.ml.tasks.registry import load_task


def test_catalog_lists_the_seven_classifiers() -> None:
    assert set(CATALOG) == {
        "resnet18",
        "resnet34",
        "resnet50",
        "efficientnet_b0",
        "efficientnet_b3",
        "mobilenet_v3_small",
        "mobilenet_v3_large",
    }
    for spec in CATALOG.values():
        assert spec.label and spec.description and spec.params > 1_000_000
        assert spec.weights.endswith(("_V1", "_V2"))


@pytest.mark.parametrize("key", list(CATALOG))
def test_build_each_model_random_init(key: str) -> None:
    torch.manual_seed(0)
    model = build_model(key, 5)
    full = catalog.instantiate(CATALOG[key], pretrained=False)
    # the published parameter count (ImageNet head) matches torchvision's model
    assert count_parameters(full) == CATALOG[key].params
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 5)


@pytest.mark.parametrize("key", ["resnet18", "mobilenet_v3_small", "efficientnet_b0"])
def test_frozen_backbone_trains_only_the_head(key: str) -> None:
    model = build_model(key, 3, freeze_backbone=True)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    head = CATALOG[key].head
    assert trainable == [f"{head}.weight", f"{head}.bias"]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    # a training step leaves the backbone unchanged
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    loss = model(torch.rand(4, 3, 32, 32)).sum()
    loss.backward()
    opt.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    # BatchNorm statistics and weights of the backbone stay as they were
    assert f"{head}.bias" in changed and changed <= {f"{head}.weight", f"{head}.bias"}
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith(head))


def test_offline_pretrained_request_is_a_clear_validation_error() -> None:
    task = load_task("classification")
    config = task.make_config({"model": "resnet18", "pretrained": True})
    with pytest.raises(ValidationFailed) as err:
        task.build_model(CATALOG["resnet18"], 10, config)
    message = err.value.message
    assert message.startswith("Pretrained weights for ResNet-18 are not on this machine")
    assert "offline" in message and "fetch_weights" in message
    assert "Traceback" not in message and err.value.code == "weights_unavailable"


def test_failed_download_gives_the_same_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_OFFLINE")

    def no_network(url: str, target: Path) -> None:
        raise OSError("Name or service not known")

    monkeypatch.setattr(weights, "_download", no_network)
    with pytest.raises(ValidationFailed, match="cannot be downloaded"):
        weights.require_weights(CATALOG["mobilenet_v3_small"])


def test_weights_status_and_cache_dir_follow_torch_home(offline: Path) -> None:
    status = weights.weights_status("resnet18")
    assert not status.available
    assert status.path.is_relative_to(offline)
    assert status.path.name == "resnet18-f37072fd.pth"
    assert status.to_dict()["available"] is False


def test_fetch_weights_offline_is_refused() -> None:
    with pytest.raises(Exception, match="Cannot download"):
        weights.fetch_weights(["resnet18"])


def test_import_weights_file_then_pretrained_loads(tmp_path: Path) -> None:
    spec = CATALOG["mobilenet_v3_small"]
    source = catalog.instantiate(spec, pretrained=False)
    user_file = tmp_path / "my-weights.pt"
    torch.save({"state_dict": source.state_dict()}, user_file)  # wrapped, as many tools save

    status = weights.import_weights_file(spec.key, user_file)
    assert status.available
    assert torch.load(status.path, weights_only=True).keys() == source.state_dict().keys()

    model = build_model(spec.key, 4, pretrained=True)
    head = spec.head
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(head)}
    for key, value in own.items():
        assert torch.equal(value, source.state_dict()[key]), key
    mean, std = weights.normalization(spec, pretrained=True)
    assert mean == pytest.approx([0.485, 0.456, 0.406]) and std == pytest.approx(
        [0.229, 0.224, 0.225]
    )


def test_import_rejects_wrong_architecture_and_non_weights(tmp_path: Path) -> None:
    wrong = tmp_path / "resnet.pt"
    torch.save(catalog.instantiate(CATALOG["resnet18"], pretrained=False).state_dict(), wrong)
    with pytest.raises(ValidationFailed, match="does not hold ImageNet weights for MobileNetV3"):
        weights.import_weights_file("mobilenet_v3_small", wrong)

    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello")
    with pytest.raises(ValidationFailed, match=r"cannot|not a PyTorch"):
        weights.import_weights_file("mobilenet_v3_small", garbage)
    assert not weights.weights_status("mobilenet_v3_small").available


def test_unknown_model_and_zero_outputs() -> None:
    with pytest.raises(ValidationFailed) as err:
        build_model("vgg", 3)
    assert "model" in err.value.details
    with pytest.raises(ValidationFailed):
        build_model("resnet18", 0)
    with pytest.raises(ValidationFailed):
        build_model("resnet18", 3, task="object_detection")
