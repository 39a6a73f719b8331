"""Fixtures of the experiment tests: offline weights cache, a digits project with a split."""

from __future__ import annotations

from typing import Any

import pytest

from studio.storage.paths import Workspace
from tests.experiments.helpers import digits_project


@pytest.fixture
def digits(workspace: Workspace, db: Any) -> tuple[str, str]:
    """(project id, split id) of an 80-image digits project."""
    return digits_project(workspace)


@pytest.fixture
def token(user: Any) -> str:
    from rest_framework.authtoken.models import Token

    return str(Token.objects.create(user=user).key)
