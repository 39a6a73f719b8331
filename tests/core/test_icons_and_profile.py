"""Small things of the GUI: the favicon, icons that need no emoji font, the password change."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Characters that only an emoji font draws (they render as empty boxes without one): the
# pictographs of the supplementary planes (🔒 🎲 …), emoji variation selector 16 and the
# zero-width joiner of emoji sequences. Arrows and the text symbols of the basic plane
# (← → ✓ ✕ ☾) have glyphs in ordinary fonts and stay.
EMOJI = re.compile("[\U0001f000-\U0001faff\ufe0f\u200d]")


def front_end_files() -> list[Path]:
    templates = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("apps/*/templates/**/*.html")]
    return sorted([*templates, *ROOT.glob("static/studio/*.js")])


def test_no_emoji_in_templates_or_scripts() -> None:
    files = front_end_files()
    assert len(files) > 20  # the globs do find the front end
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if EMOJI.search(line)
    ]
    assert not found, "emoji need an emoji font; use static/studio/icons.svg:\n" + "\n".join(found)


def test_every_icon_used_exists_in_the_sprite() -> None:
    sprite = (ROOT / "static/studio/icons.svg").read_text()
    symbols = set(re.findall(r'<symbol id="([\w-]+)"', sprite))
    used = {
        name
        for path in front_end_files()
        for name in re.findall(r"icons\.svg' %\}#([\w-]+)", path.read_text(encoding="utf-8"))
    }
    assert {"lock", "dice"} <= used
    assert used <= symbols, f"icons without a symbol: {used - symbols}"


@pytest.mark.django_db
def test_favicon_without_login(client: Any) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = response["Location"]
    assert icon.endswith("studio/favicon.svg")
    # the page links it too
    login = client.get("/login/").content.decode()
    assert f'<link rel="icon" href="{icon}" type="image/svg+xml">' in login


def test_favicon_is_served_as_svg(live_server_url: str) -> None:
    """Through the real server (Daphne + WhiteNoise): the redirect lands on an SVG."""
    import urllib.request

    with urllib.request.urlopen(f"{live_server_url}/favicon.ico", timeout=120) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("image/svg+xml")
        assert b"<svg" in response.read()


@pytest.mark.django_db
def test_non_staff_user_changes_password(client: Any, user: Any) -> None:
    from tests.conftest import TEST_PASSWORD

    client.force_login(user)
    profile = client.get("/profile/").content.decode()
    assert 'href="/password/"' in profile and "manage.py changepassword" in profile
    assert client.get("/password/").status_code == 200

    wrong = client.post(
        "/password/",
        {
            "old_password": "nope",
            "new_password1": "n3w-Passw0rd!",
            "new_password2": "n3w-Passw0rd!",
        },
    )
    assert wrong.status_code == 200 and "incorrectly" in wrong.content.decode()

    done = client.post(
        "/password/",
        {
            "old_password": TEST_PASSWORD,
            "new_password1": "n3w-Passw0rd!",
            "new_password2": "n3w-Passw0rd!",
        },
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/profile/"
    assert "Your password was changed." in done.content.decode()
    user.refresh_from_db()
    assert user.check_password("n3w-Passw0rd!")
    assert client.get("/profile/").status_code == 200  # still logged in


@pytest.mark.django_db
def test_password_page_needs_login(client: Any) -> None:
    response = client.get("/password/")
    assert response.status_code == 302 and "/login/" in response["Location"]
