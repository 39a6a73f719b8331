"""The viewer draws boxes and polygons over the image (Chromium, no worker: imported in-process).

The overlay's shapes are SVG elements built by dataset.js (``drawShapes``): a ``<template x-for>``
inside ``<svg>`` is not an HTML template (Alpine raised "s is not defined" on every Dataset page
load), and ``x-html`` is both an XSS sink and unavailable in Alpine's CSP build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import screenshot
from tests.datasets.helpers import coco_file, write_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_boxes_and_polygons_are_drawn_without_page_errors(
    warm_live_server: str, logged_in_page: Any, project: Any, do_import: Any, tmp_path: Path
) -> None:
    root = tmp_path / "coco"
    write_image(root / "images" / "a.jpg", 5, size=(48, 32))
    coco_file(root / "annotations" / "instances.json", {
        "categories": [{"id": 1, "name": "cat"}],
        "images": [{"id": 1, "file_name": "images/a.jpg", "width": 48, "height": 32}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 5]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 2, 5, 5],
             "segmentation": [[20, 2, 25, 2, 25, 7, 20, 7]]},
        ],
    })  # fmt: skip
    assert do_import(root, "coco").added == 1
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{page.base_url}/projects/{project.id}/dataset/")
    page.get_by_test_id("thumb").first.click()
    overlay = page.get_by_test_id("viewer-overlay")
    overlay.locator("polygon").wait_for()
    assert overlay.locator("rect").count() == 2 and overlay.locator("polygon").count() == 1
    assert overlay.locator("rect").first.get_attribute("width") == "10"
    assert overlay.get_attribute("viewBox") == "0 0 48 32"
    screenshot(page, "dataset-viewer-boxes")
    assert not errors, errors
