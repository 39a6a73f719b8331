"""Failed log-ins lock further attempts per user name and per address; success resets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache(redis_client: Any) -> None:
    """The counters live in the shared Redis cache; ``redis_client`` flushes it."""


def login(username: str, password: str, address: str = "10.0.0.1") -> Any:
    client = Client(REMOTE_ADDR=address)
    return client.post("/login/", {"username": username, "password": password})


def test_five_failures_lock_the_user(user: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="studio.security"):
        for _ in range(5):
            response = login("alice", "wrong")
            assert response.status_code == 200
            assert b"Wrong user name or password" in response.content
    assert "failed log-in for user 'alice' from 10.0.0.1" in caplog.text
    # Locked: even the right password is refused, with a clear message, from any address.
    locked = login("alice", TEST_PASSWORD, address="10.0.0.2")
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content
    assert "_auth_user_id" not in locked.wsgi_request.session
    # Another user is not affected.
    assert login("bob", "wrong", address="10.0.0.2").status_code == 200


def test_success_resets_the_user_counter(user: Any) -> None:
    for _ in range(4):
        login("alice", "wrong")
    assert login("alice", TEST_PASSWORD).status_code == 302
    for _ in range(4):
        assert login("alice", "wrong").status_code == 200
    assert login("alice", TEST_PASSWORD).status_code == 302


def test_twenty_failures_lock_the_address(user: Any, django_user_model: Any) -> None:
    for i in range(20):
        assert login(f"nobody{i}", "wrong", address="10.9.9.9").status_code == 200
    assert login("alice", TEST_PASSWORD, address="10.9.9.9").status_code == 429
    assert login("alice", TEST_PASSWORD, address="10.9.9.8").status_code == 302


def test_the_admin_login_is_throttled_too(django_user_model: Any) -> None:
    django_user_model.objects.create_user("root", password=TEST_PASSWORD, is_staff=True)
    client = Client(REMOTE_ADDR="10.0.0.5")
    for _ in range(5):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "root", "password": TEST_PASSWORD})
    assert response.status_code == 200  # the admin form shows the error, no redirect
    assert b"Too many failed log-ins" in response.content
