"""Fixtures of the evaluation tests: a trained digits experiment (trained once per session)
copied into each test's workspace, with or without a finished evaluation."""

from __future__ import annotations

import urllib.request

import pytest

from studio.workspace.paths import Workspace
from tests.evaluation.fixtures import Template, build_template, evaluate_template, install


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return build_template(tmp_path_factory.mktemp("eval-trained"))


@pytest.fixture(scope="session")
def evaluated_template(
    tmp_path_factory: pytest.TempPathFactory, trained_template: Template
) -> Template:
    """The trained template, evaluated with best.ckpt on val + test."""
    return evaluate_template(
        trained_template, tmp_path_factory.mktemp("eval-done"), ["val", "test"]
    )


@pytest.fixture
def trained(workspace: Workspace, trained_template: Template) -> Template:
    """This test's workspace holds the trained (not yet evaluated) digits project."""
    install(trained_template, workspace)
    return trained_template


@pytest.fixture
def evaluated(workspace: Workspace, evaluated_template: Template) -> Template:
    """This test's workspace holds the digits project with a completed evaluation."""
    install(evaluated_template, workspace)
    return evaluated_template


@pytest.fixture
def live_server_url(live_server_url: str) -> str:
    """The suite's Daphne, warmed up: its first request imports every app's URLconf (some pull
    in torch), which can outlast the browser's 15 s navigation timeout on a busy machine."""
    with urllib.request.urlopen(f"{live_server_url}/login/", timeout=300) as response:
        response.read()
    return live_server_url
