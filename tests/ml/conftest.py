"""Fixtures for the framework-free ML core: no Django workspace, no Redis, digits on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.ml.data import Sample
from studio.storage.dataset_schemas import DatasetFile
from tests.ml.digits import make_digits


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path) -> Path:
    """Overrides the suite-wide workspace fixture: the ML core needs no Redis or Django."""
    return tmp_path


@pytest.fixture(scope="session")
def digits_small(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Sample], DatasetFile]:
    """300 digits as 32 px PNGs (240 train / 30 val / 30 test)."""
    return make_digits(tmp_path_factory.mktemp("digits-small"), limit=300)


@pytest.fixture(scope="session")
def digits_tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Sample], DatasetFile]:
    """120 digits as 32 px PNGs (96 train / 12 val / 12 test): for end-to-end runs."""
    return make_digits(tmp_path_factory.mktemp("digits-tiny"), limit=120)


@pytest.fixture(scope="session")
def digits_full(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Sample], DatasetFile]:
    """All 1797 digits as 32 px PNGs, split 80/10/10."""
    return make_digits(tmp_path_factory.mktemp("digits-full"))


class EventLog:
    """Collects ``on_event`` calls."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def types(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for k, data in self.events if k == kind]


@pytest.fixture
def event_log() -> EventLog:
    return EventLog()


def never() -> bool:
    return False


def stop_after(batches: int) -> Callable[[], bool]:
    """A ``should_stop`` that turns true once it has been asked ``batches`` times."""
    calls = [0]

    def should_stop() -> bool:
        calls[0] += 1
        return calls[0] >= batches

    return should_stop
