"""Every page at a phone width (500 px) and a desktop width (1400 px) in Chromium.

At both widths: the document never scrolls sideways (``scrollWidth <= innerWidth``), the page's
key element is visible, wide things (the confusion matrix, tables) scroll inside their own box,
and the dataset viewer shows its image. A screenshot of every page at every width lands in
``test-artifacts/narrow-<page>-<width>.png`` for a human to look at.

The project is the evaluation tests' digits template (imported dataset, one split, one
completed experiment, a finished classification evaluation on val + test), built in-process
once per session: no worker, no training job.
"""

from __future__ import annotations

import re
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from studio.storage.paths import Workspace
from tests.conftest import TEST_PASSWORD, screenshot
from tests.evaluation.fixtures import Template, build_template, evaluate_template, install

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (500, 1400)

# how far the document reaches beyond the viewport, in CSS pixels (0: no sideways scroll)
OVERFLOW = "() => document.scrollingElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="session")
def narrow_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The digits project trained (1 epoch, in-process) and evaluated on val + test."""
    trained = build_template(tmp_path_factory.mktemp("narrow-trained"), limit=100, epochs=1)
    return evaluate_template(trained, tmp_path_factory.mktemp("narrow-done"), ["val", "test"])


@pytest.fixture
def digits(workspace: Workspace, narrow_template: Template) -> Template:
    install(narrow_template, workspace)
    return narrow_template


@pytest.fixture
def warm_url(live_server_url: str) -> str:
    """The live server after its first page (importing every URLconf can take long)."""
    with urllib.request.urlopen(f"{live_server_url}/login/", timeout=300) as response:
        response.read()
    return live_server_url


def log_in(page: Any, base: str, width: int) -> None:
    # a page's first request can import torch (the Training page's catalog) on a busy machine
    page.set_default_navigation_timeout(120_000)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def overflow(page: Any) -> int:
    return int(page.evaluate(OVERFLOW))


def check(page: Any, name: str, width: int, key: Any) -> None:
    """The key element is visible and the page does not scroll sideways; a screenshot."""
    expect(key).to_be_visible()
    screenshot(page, f"narrow-{name}-{width}")
    assert overflow(page) <= 0, f"{name} at {width} px is {overflow(page)} px too wide"


# The nearest ancestor (or the element) that scrolls sideways: its overflow-x, its scroll and
# client widths, and its right edge.
SCROLL_BOX = """(el) => {
  for (let box = el; box; box = box.parentElement) {
    const style = getComputedStyle(box).overflowX;
    if (style === "auto" || style === "scroll") {
      return { scroll: box.scrollWidth, client: box.clientWidth,
               right: box.getBoundingClientRect().right };
    }
  }
  return null;
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_login_page(page: Any, live_server_url: str, user: Any, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server_url}/login/")
    check(page, "login", width, page.locator("input[name=password]"))


@pytest.mark.parametrize("width", WIDTHS)
def test_project_pages(page: Any, warm_url: str, user: Any, digits: Template, width: int) -> None:
    log_in(page, warm_url, width)
    base = f"{warm_url}/projects/{digits.project_id}"

    check(page, "projects", width, page.get_by_test_id("project-card").first)

    page.goto(f"{base}/dataset/")
    check(page, "dataset", width, page.get_by_test_id("thumb").first)
    nav = page.get_by_role("navigation", name="Project")
    expect(nav.get_by_role("link", name="Export")).to_be_visible()  # the whole nav, not clipped
    assert (nav.get_by_role("link", name="Export").bounding_box() or {})["x"] + 40 <= width

    # the viewer: the image scaled to the stage, not 0 x 0
    page.get_by_test_id("thumb").first.click()
    image = page.get_by_test_id("viewer-image")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=viewer-image]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    box = image.bounding_box()
    assert box is not None and box["width"] >= 100 and box["height"] >= 100, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    # the viewer is fixed to the viewport: a screenshot of the viewport, not the whole page
    page.screenshot(path=str(screenshot(page, f"narrow-viewer-{width}")), full_page=False)
    assert overflow(page) <= 0
    page.keyboard.press("Escape")

    page.goto(f"{base}/splits/")
    check(page, "splits", width, page.get_by_test_id("split-form"))
    page.goto(f"{base}/splits/?split={digits.split_id}")
    check(page, "split", width, page.get_by_test_id("split-summary"))

    page.goto(f"{base}/training/?exp={digits.experiment_id}")
    check(page, "training", width, page.get_by_test_id("experiment-item").first)
    items = page.get_by_test_id("experiment-list").bounding_box()
    run = page.locator(".tr-main").bounding_box()
    assert items is not None and run is not None
    if width == 500:  # stacked: the run below the list, as wide as the page
        assert run["y"] >= items["y"] + items["height"] and run["width"] >= 400
    else:  # side by side
        assert run["x"] > items["x"] + items["width"]

    page.goto(f"{base}/evaluation/")
    matrix = page.get_by_test_id("confusion-matrix")
    check(page, "evaluation", width, matrix)
    expect(matrix.locator("td.ev-cell")).to_have_count(100)
    scroller = matrix.evaluate(SCROLL_BOX)
    assert scroller is not None, "the confusion matrix has no box of its own to scroll in"
    assert scroller["right"] <= width
    if width == 500:  # ten columns do not fit: they scroll inside the box, not the page
        assert scroller["scroll"] > scroller["client"], scroller
        expect(page.get_by_test_id("cell-9-9")).to_be_attached()

    page.goto(f"{base}/export/")
    check(page, "export", width, page.get_by_test_id("export-start"))
    expect(page.get_by_test_id("try-drop")).to_be_visible()

    page.goto(f"{warm_url}/profile/")
    check(page, "profile", width, page.get_by_test_id("api-token"))
    expect(page.get_by_test_id("copy-token")).to_be_visible()

    page.goto(f"{warm_url}/password/")
    check(page, "password", width, page.get_by_test_id("password-form"))


def test_copy_token_button(browser: Any, warm_url: str, user: Any) -> None:
    """With clipboard permissions (a secure context: 127.0.0.1) the token lands in the clipboard."""
    context = browser.new_context(viewport={"width": 500, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=warm_url)
    page = context.new_page()
    try:
        log_in(page, warm_url, 500)
        page.goto(f"{warm_url}/profile/")
        token = page.get_by_test_id("api-token").inner_text().strip()
        assert len(token) == 40
        button = page.get_by_test_id("copy-token")
        button.click()
        expect(button).to_contain_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == token
    finally:
        context.close()


def test_copy_token_falls_back_to_selecting(page: Any, warm_url: str, user: Any) -> None:
    """Without the Clipboard API (plain http on a LAN address) the token is selected instead."""
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', { value: undefined })")
    log_in(page, warm_url, 1400)
    page.goto(f"{warm_url}/profile/")
    token = page.get_by_test_id("api-token").inner_text().strip()
    page.get_by_test_id("copy-token").click()
    expect(page.get_by_test_id("copy-token")).to_contain_text(re.compile("Copied|Selected"))
    assert page.evaluate("() => window.getSelection().toString().trim()") == token
