"""Fixtures of the evaluation tests: a trained digits experiment (trained once per session)
copied into each test's workspace, with or without a finished evaluation."""

from __future__ import annotations

import urllib.request

import pytest

from studio.storage.paths import Workspace
from tests.evaluation.fixtures import Template, build_template, evaluate_template, install
from tests.evaluation.task_fixtures import build_task_template, evaluate_task_template


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


@pytest.fixture(scope="session")
def anomaly_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A trained anomaly-detection digits project (good 0-6, defect 7-9), not evaluated."""
    return build_task_template(tmp_path_factory.mktemp("eval-anomaly"), "anomaly_detection")


@pytest.fixture(scope="session")
def anomaly_evaluated_template(
    tmp_path_factory: pytest.TempPathFactory, anomaly_template: Template
) -> Template:
    """``anomaly_template`` evaluated on val + test: the threshold was chosen on val."""
    return evaluate_task_template(
        anomaly_template, tmp_path_factory.mktemp("eval-anomaly-done"), ["val", "test"]
    )


@pytest.fixture(scope="session")
def regression_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A trained regression digits project (targets ``digit`` and ``ink``), not evaluated."""
    return build_task_template(tmp_path_factory.mktemp("eval-regression"), "regression")


@pytest.fixture(scope="session")
def regression_evaluated_template(
    tmp_path_factory: pytest.TempPathFactory, regression_template: Template
) -> Template:
    return evaluate_task_template(
        regression_template, tmp_path_factory.mktemp("eval-regression-done"), ["val", "test"]
    )


@pytest.fixture
def anomaly_evaluated(workspace: Workspace, anomaly_evaluated_template: Template) -> Template:
    """This test's workspace holds the anomaly project with a completed evaluation."""
    install(anomaly_evaluated_template, workspace)
    return anomaly_evaluated_template


@pytest.fixture
def regression_evaluated(workspace: Workspace, regression_evaluated_template: Template) -> Template:
    """This test's workspace holds the regression project with a completed evaluation."""
    install(regression_evaluated_template, workspace)
    return regression_evaluated_template


@pytest.fixture
def live_server_url(live_server_url: str) -> str:
    """The suite's Daphne, warmed up: its first request imports every app's URLconf (some pull
    in torch), which can outlast the browser's 15 s navigation timeout on a busy machine."""
    with urllib.request.urlopen(f"{live_server_url}/login/", timeout=300) as response:
        response.read()
    return live_server_url
