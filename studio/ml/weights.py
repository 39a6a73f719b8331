"""Pretrained weights: where they live, whether they are here, and how they get here.

Contract:

- The cache is torchvision's own: ``$TORCH_HOME/hub/checkpoints/<file from the enum URL>``
  (Studio's settings point ``TORCH_HOME`` at ``workspace/.cache/torch``), so a file fetched
  by torchvision, by :func:`fetch_weights` or imported with :func:`import_weights_file` is
  the same file.
- :func:`require_weights` finds the file, or tries one download (unless
  ``STUDIO_OFFLINE=1``), or raises a ``ValidationFailed`` whose message tells the user what
  to do. :func:`fetch_weights` (``manage.py fetch_weights``) downloads ahead of time.
- Every file Studio loads is read with ``torch.load(weights_only=True)``: a weights file is
  data, never code.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from studio.errors import StudioError, ValidationFailed
from studio.ml.catalog import CATALOG, IMAGENET_MEAN, IMAGENET_STD, ModelSpec, get_spec

if TYPE_CHECKING:
    import torch

OFFLINE_ENV = "STUDIO_OFFLINE"
_DOWNLOAD_TIMEOUT_S = 15  # per connect/read: a dead network fails fast


@dataclass(frozen=True)
class WeightsStatus:
    """Whether a model's pretrained weights are on this machine, and where they would be."""

    key: str
    label: str
    weights: str
    url: str
    path: Path
    available: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "weights": self.weights,
            "url": self.url,
            "file": self.path.name,
            "available": self.available,
        }


def weights_enum(spec: ModelSpec) -> Any:
    """The torchvision weights enum member named by ``spec.weights``."""
    from torchvision.models import get_weight

    return get_weight(spec.weights)


def cache_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints``: where torchvision looks for downloaded weights."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_path(spec: ModelSpec) -> Path:
    """The cache file for ``spec``'s weights (it may not exist)."""
    url = weights_enum(spec).url
    return cache_dir() / Path(urlparse(url).path).name


def weights_status(key: str) -> WeightsStatus:
    """Is the pretrained file for catalog model ``key`` available locally?"""
    spec = get_spec(key)
    path = weights_path(spec)
    return WeightsStatus(
        key=spec.key,
        label=spec.label,
        weights=spec.weights,
        url=weights_enum(spec).url,
        path=path,
        available=path.is_file(),
    )


def offline_message(spec: ModelSpec) -> str:
    return (
        f"Pretrained weights for {spec.label} are not on this machine and cannot be downloaded "
        "(offline). Train from scratch, import a weights file, or run manage.py fetch_weights "
        "where there is internet."
    )


def require_weights(spec: ModelSpec, *, download: bool = True) -> Path:
    """The local weights file of ``spec``, or a ``ValidationFailed`` saying what to do.

    When the file is missing and ``download`` is true (and ``STUDIO_OFFLINE`` is not ``1``),
    one download is attempted; any network failure becomes the offline message, since the
    user's fix is the same either way.
    """
    path = weights_path(spec)
    if path.is_file():
        return path
    if download and os.environ.get(OFFLINE_ENV) != "1":
        with contextlib.suppress(OSError, StudioError):
            _download(weights_enum(spec).url, path)
            return path
    raise ValidationFailed(
        offline_message(spec),
        code="weights_unavailable",
        details={"pretrained": [offline_message(spec)]},
    )


def _load_file(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a usable file"
        raise ValidationFailed(
            f"{path.name} is not a PyTorch weights file that can be loaded safely ({exc}).",
            code="weights_invalid",
            details={"file": [str(exc)]},
        ) from exc


def _unwrap(obj: Any) -> dict[str, torch.Tensor]:
    """Accept a bare state dict or the usual ``{"state_dict": …}`` / ``{"model": …}`` wrappers."""
    import torch

    for _ in range(2):
        if isinstance(obj, dict) and len(obj) <= 3:
            inner = obj.get("state_dict", obj.get("model"))
            if isinstance(inner, dict):
                obj = inner
                continue
        break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValidationFailed(
            "The file does not contain a state dict (a mapping of layer names to tensors).",
            code="weights_invalid",
        )
    return obj


def _check_fits(spec: ModelSpec, state: dict[str, torch.Tensor]) -> None:
    import torchvision

    model = torchvision.models.get_model(spec.builder, weights=None)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ValidationFailed(
            f"This file does not hold ImageNet weights for {spec.label}: {first}",
            code="weights_invalid",
            details={"file": [str(exc)[:500]]},
        ) from exc


def load_state_dict(spec: ModelSpec) -> dict[str, torch.Tensor]:
    """The ImageNet state dict of ``spec`` from the local cache (never downloads)."""
    return _unwrap(_load_file(require_weights(spec)))


def _atomic_place(src_writer: Any, target: Path) -> None:
    """Write ``target`` through a temp file in its folder so a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        src_writer(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def import_weights_file(key: str, path: Path) -> WeightsStatus:
    """Copy a user-supplied weights file for model ``key`` into the cache.

    The file must load with ``torch.load(weights_only=True)`` and fit the architecture
    exactly (strict ``load_state_dict``); otherwise ``ValidationFailed`` explains why.
    A wrapped state dict (``{"state_dict": …}``) is unwrapped before it is stored.
    """
    import torch

    spec = get_spec(key)
    path = Path(path)
    if not path.is_file():
        raise ValidationFailed(f"No file at {path}", details={"path": [str(path)]})
    raw = _load_file(path)
    state = _unwrap(raw)
    _check_fits(spec, state)
    target = weights_path(spec)
    if state is raw:
        _atomic_place(lambda tmp: shutil.copyfile(path, tmp), target)
    else:
        _atomic_place(lambda tmp: torch.save(state, tmp), target)
    return weights_status(key)


def _download(url: str, target: Path) -> None:
    """Download ``url`` to ``target`` atomically, checking torchvision's hash prefix."""
    expected = re.search(r"-([a-f0-9]{6,})\.", Path(urlparse(url).path).name)

    def write(tmp: Path) -> None:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp, tmp.open("wb") as fh:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                fh.write(chunk)
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            raise StudioError(f"The download of {url} is corrupt (checksum mismatch).")

    _atomic_place(write, target)


def fetch_weights(keys: list[str] | None = None) -> list[WeightsStatus]:
    """Download the missing pretrained weights of ``keys`` (default: the whole catalog).

    For ``manage.py fetch_weights`` on a machine with internet. Raises ``StudioError`` with
    the reason when offline (``STUDIO_OFFLINE=1`` or no connection).
    """
    results: list[WeightsStatus] = []
    for key in keys or list(CATALOG):
        status = weights_status(key)
        if not status.available:
            if os.environ.get(OFFLINE_ENV) == "1":
                raise StudioError(
                    f"Cannot download weights for {status.label}: {OFFLINE_ENV}=1 is set.",
                    code="offline",
                )
            try:
                _download(status.url, status.path)
            except OSError as exc:  # URLError, timeouts and DNS failures are OSErrors
                raise StudioError(
                    f"Could not download weights for {status.label} from {status.url}: {exc}",
                    code="download_failed",
                ) from exc
            status = weights_status(key)
        results.append(status)
    return results


def normalization(spec: ModelSpec, *, pretrained: bool) -> tuple[list[float], list[float]]:
    """Per-channel (mean, std) the model's inputs are normalised with.

    Pretrained weights dictate their own statistics (ImageNet for every torchvision
    classifier); a model trained from scratch uses the same so that it can later be
    fine-tuned or exported with one preprocessing recipe.
    """
    if pretrained:
        preset = weights_enum(spec).transforms()
        return [float(v) for v in preset.mean], [float(v) for v in preset.std]
    return list(IMAGENET_MEAN), list(IMAGENET_STD)
