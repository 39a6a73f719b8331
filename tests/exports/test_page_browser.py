"""The Export page in Chromium without a worker (issue 12): it opens the best experiment, not
the newest run, honours ``?experiment=``, and try-it answers a non-image with a sentence that
names the file (checked before any model loads, so these runs need no real checkpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from studio.storage.paths import Workspace
from tests.conftest import screenshot
from tests.evaluation.test_default_experiment import three_runs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1400, 500])
def test_best_experiment_and_try_it_on_a_non_image(
    logged_in_page: Any, workspace: Workspace, tmp_path: Path, width: int
) -> None:
    pid = three_runs(workspace, tmp_path)
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{page.base_url}/projects/{pid}/export/", timeout=120_000)
    select = page.get_by_test_id("experiment-select")
    expect(select).to_have_value("best")  # the best validation accuracy, not the newest run
    expect(page.locator(".ex-history h2")).to_have_text("Earlier exports of Run best")
    expect(page.get_by_test_id("select-error")).to_have_count(0)
    screenshot(page, f"export-page-{width}")

    page.get_by_test_id("try-file").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"}]
    )
    expect(page.get_by_test_id("try-error")).to_have_text("Not an image (JPEG, PNG, …): notes.txt")
    expect(page.get_by_test_id("try-result")).to_have_count(0)
    screenshot(page, f"export-try-not-an-image-{width}")

    page.goto(f"{page.base_url}/projects/{pid}/export/?experiment=chance")
    expect(select).to_have_value("chance")
    page.goto(f"{page.base_url}/projects/{pid}/export/?experiment=missing")
    expect(select).to_have_value("best")
    expect(page.get_by_test_id("select-error")).to_contain_text("'missing' cannot be exported")
