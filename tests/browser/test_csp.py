"""Every page runs under the Content-Security-Policy (``script-src 'self'``), in Chromium.

One project per available task (a dataset, a split and a draft experiment, made in-process, no
worker), then every page of the GUI plus the admin, the browsable API and Swagger UI: the CSP
header is there, and the browser reports no CSP violation and no Alpine expression error
(the ``page`` fixture fails a test on either; this test also reads them page by page, so a
failure names the page). Each page is used a little so that lazy expressions run too.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from apps.core.csp import POLICY
from studio.ml.tasks.registry import TASKS
from studio.storage.paths import Workspace
from tests.conftest import csp_problems
from tests.splits.helpers import labelled, make_project, targets, write_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AVAILABLE = sorted(info.type.value for info in TASKS.values() if info.available)


def _project(ws: Workspace, api: Any, task: str) -> str:
    """A project of ``task`` with 40 images, a split and a draft experiment."""
    from apps.projects.mirror import mirror_project
    from apps.splits.services import split_create
    from studio.splits.schemas import SplitRatios
    from studio.storage import project_store

    pid = make_project(ws, task, name=f"CSP {task}")
    mirror_project(project_store.inspect(ws, pid))
    if task == "regression":
        write_dataset(ws, pid, targets([float(i) for i in range(40)]), (), ("age",))
    else:
        write_dataset(ws, pid, labelled([0] * 20 + [1] * 20), ("good", "scratch"))
    split = split_create(pid, SplitRatios(train=0.8, val=0.1, test=0.1), seed=0, name="Main")
    response = api.post(
        f"/api/experiments/{pid}/", {"split_id": split.id, "start": False}, format="json"
    )
    assert response.status_code == 201, response.content
    return pid


class Visit:
    """Opens pages and checks, for each one, the CSP header and the browser's console."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.seen = 0

    def __call__(self, path: str, **goto: Any) -> Any:
        self.check()
        response = self.page.goto(f"{self.page.base_url}{path}", **goto)
        assert response is not None and response.status == 200, (path, response)
        assert response.headers.get("content-security-policy") == POLICY, path
        self.page.wait_for_load_state("load")
        self.where = path
        return response

    def check(self) -> None:
        """No CSP violation or Alpine error since the last check (names the page)."""
        self.page.wait_for_timeout(300)  # let deferred scripts and Alpine report
        messages = self.page.console_messages_seen
        problems = csp_problems(messages[self.seen :])
        self.seen = len(messages)
        assert not problems, (getattr(self, "where", "login"), problems)


def test_every_page_runs_under_the_csp(
    logged_in_page: Any, api: Any, user: Any, workspace: Workspace
) -> None:
    page = logged_in_page
    user.is_staff = user.is_superuser = True  # for the admin index
    user.save()
    pids = {task: _project(workspace, api, task) for task in AVAILABLE}
    assert {"classification", "anomaly_detection", "regression"} <= set(pids)
    visit = Visit(page)

    visit("/")
    page.get_by_test_id("new-project").click()
    page.get_by_role("dialog").locator("input[name=name]").wait_for()
    page.keyboard.press("Escape")
    card = page.get_by_test_id("project-card").first
    card.get_by_test_id("rename").click()
    card.get_by_role("button", name="Cancel").click()

    for pid in pids.values():
        base = f"/projects/{pid}"
        # Dataset: the import dialog (each source), the viewer, a class filter
        visit(f"{base}/dataset/")
        page.get_by_test_id("open-import").click()
        dialog = page.get_by_test_id("import-dialog")
        for source in ("zip", "files", "folder"):
            dialog.locator(f"input[name=source][value={source}]").check()
        page.get_by_test_id("import-path").fill("/nowhere")
        page.get_by_test_id("import-submit").click()
        expect(page.get_by_test_id("import-error")).not_to_be_empty()
        page.keyboard.press("Escape")
        page.get_by_test_id("thumb").first.click()
        expect(page.get_by_test_id("viewer-name")).not_to_be_empty()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Escape")

        # Splits: the saved split's summary, then a new one with a moved slider and a preview
        visit(f"{base}/splits/")
        page.get_by_test_id("split-item").first.click()
        expect(page.get_by_test_id("split-summary")).to_be_visible()
        page.get_by_test_id("new-split").click()
        slider = page.get_by_test_id("slider-train")
        slider.fill("60")
        expect(page.get_by_test_id("pct-train")).to_contain_text("60")
        expect(page.get_by_test_id("preview-table")).to_be_visible()

        # Training: the new-experiment form with its hidden sections, and the draft's run panel
        visit(f"{base}/training/?new=1", timeout=180_000)
        page.get_by_test_id("toggle-advanced").click()
        page.get_by_test_id("toggle-augment").click()
        page.locator("label.tr-model", has=page.get_by_test_id("model-resnet34")).click()
        expect(page.get_by_test_id("model-resnet34")).to_be_checked()
        visit(f"{base}/training/")  # opens the newest experiment
        expect(page.get_by_test_id("run-status")).to_have_text("draft")

        # Evaluation and Export: nothing trained, their empty states
        visit(f"{base}/evaluation/")
        visit(f"{base}/export/")
        visit.check()

    visit("/profile/")
    visit("/admin/")
    visit("/api/projects/")  # the DRF browsable API
    visit("/api/tasks/")
    visit("/api/docs/")
    page.wait_for_timeout(1500)  # Swagger UI loads the schema and renders
    visit.check()


def test_the_checks_catch_inline_scripts_and_unsupported_expressions(
    page: Any, live_server_url: str
) -> None:
    """The probe is real: an inline script on a Studio page is blocked and reported, and an
    expression Alpine's CSP build cannot run (a global) is reported too."""
    response = page.goto(f"{live_server_url}/login/")
    assert response is not None and response.headers["content-security-policy"] == POLICY
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.__ran = true"; document.body.append(s); }"""
    )
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__ran === undefined")
    problems = csp_problems(page.console_messages_seen)
    assert any("CSP violation: script-src" in p for p in problems), problems

    page.console_messages_seen.clear()
    page.evaluate(
        """() => { const d = document.createElement("div");
                   d.setAttribute("x-data", ""); d.setAttribute("x-text", "Math.max(1, 2)");
                   document.body.append(d); }"""
    )
    page.wait_for_timeout(300)
    problems = csp_problems(page.console_messages_seen)
    assert any("Alpine Expression Error" in p and "Math" in p for p in problems), problems
    page.console_messages_seen.clear()  # expected here: do not fail the fixture's check
