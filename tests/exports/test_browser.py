"""The Export page in Chromium: export with a real worker, the pass badge, download, try it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from studio.storage.paths import Workspace
from tests.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_export_download_and_try_it(
    logged_in_page: Any,
    start_worker: Any,
    db_trained: tuple[str, str],
    digits_files: Any,
    tmp_path: Path,
) -> None:
    page = logged_in_page
    pid, _ = db_trained
    start_worker()
    page.goto(f"{page.base_url}/projects/{pid}/export/")
    assert page.locator(".project-nav a.active").inner_text() == "Export"
    page.get_by_test_id("no-exports").wait_for()
    assert page.get_by_test_id("checkpoint-select").input_value() == "best.ckpt"
    assert page.get_by_test_id("opset").input_value() == "17"
    page.get_by_test_id("export-start").click()

    badge = page.get_by_test_id("validation-badge")
    badge.wait_for(timeout=240_000)
    assert badge.inner_text() == "✓ Validation passed"
    assert "ok" in (badge.get_attribute("class") or "")
    assert page.get_by_test_id("parity").inner_text() == "100.0 %"
    assert (
        "e-" in page.get_by_test_id("max-diff").inner_text()
        or page.get_by_test_id("max-diff").inner_text() == "0"
    )
    assert page.get_by_test_id("export-row").count() == 1
    assert page.get_by_test_id("row-badge").inner_text() == "✓ Passed"
    link = page.get_by_test_id("download-link")
    assert "MB" in link.inner_text() and ".onnx" in link.inner_text()
    screenshot(page, "export-passed")

    with page.expect_download() as info:
        link.click()
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.suffix == ".onnx" and saved.stat().st_size > 100_000

    samples, _ = digits_files
    photo = next(s for s in samples if s.subset == "test")
    page.get_by_test_id("try-file").set_input_files(str(photo.image_path))
    page.get_by_test_id("try-result").wait_for(timeout=60_000)
    assert page.get_by_test_id("try-row").count() == 5
    assert page.get_by_test_id("try-source").inner_text().startswith("ONNX export")
    screenshot(page, "export-try-it")
    page.get_by_test_id("theme-toggle").click()
    screenshot(page, "export-dark")

    page.get_by_test_id("try-file").set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG not really"}]
    )
    expect(page.get_by_test_id("try-error")).to_have_text("Not an image (JPEG, PNG, …): broken.png")

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("row-delete").click()
    page.get_by_test_id("no-exports").wait_for()


def test_empty_state_says_train_first(logged_in_page: Any, workspace: Workspace) -> None:
    from apps.projects.services import project_create

    page = logged_in_page
    project = project_create("Nothing trained", "classification", owner="alice")
    page.goto(f"{page.base_url}/projects/{project.id}/export/")
    empty = page.get_by_test_id("export-empty")
    assert "Train a model first" in empty.inner_text()
    assert (
        page.get_by_test_id("to-training").get_attribute("href")
        == f"/projects/{project.id}/training/"
    )
    screenshot(page, "export-empty")
