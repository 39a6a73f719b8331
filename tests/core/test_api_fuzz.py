"""Fuzz every API operation from the OpenAPI schema (schemathesis) against a real Daphne.

Authenticated as a user who owns a real project, so project-scoped routes get past the
membership check. Every answer must be below 500, and every 4xx JSON answer must carry
the documented body ``{"error": {"code": str, "message": str, "details": …}}``.
Bounded: a few examples per operation, positive and negative (schema-violating) data.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

MAX_EXAMPLES = int(os.environ.get("STUDIO_FUZZ_EXAMPLES", "8"))
# Operations that would only destroy the fixture the others need, or wait on a stream.
SKIP = {
    ("DELETE", "/api/projects/{project_id}/"),
    ("GET", "/api/jobs/{job_id}/events"),
    ("GET", "/api/experiments/{project_id}/{experiment_id}/events"),
}


def check_response(method: str, path: str, response: requests.Response) -> None:
    where = f"{method} {path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, where
    if 400 <= response.status_code < 500 and "json" in response.headers.get("Content-Type", ""):
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"error"}, where
        error = body["error"]
        assert isinstance(error.get("code"), str) and error["code"], where
        assert isinstance(error.get("message"), str), where
        assert "details" in error, where


def fuzz(strategy: st.SearchStrategy[Any], check: Any) -> None:
    """Run ``check(case)`` on ``MAX_EXAMPLES`` cases drawn from ``strategy``."""

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        check(case)

    run()


@pytest.mark.timeout(240)
def test_fuzz_the_whole_api(live_server_url: str, user: Any) -> None:
    token = Token.objects.create(user=user).key
    auth = {"Authorization": f"Token {token}"}
    session = requests.Session()
    created = session.post(
        f"{live_server_url}/api/projects/",
        json={"name": "Fuzzed", "task": "classification"},
        headers=auth,
        timeout=30,
    )
    assert created.status_code == 201, created.text[:300]
    project_id = created.json()["id"]
    raw = session.get(f"{live_server_url}/api/schema/?format=json", headers=auth, timeout=30)
    assert raw.status_code == 200, raw.text[:300]
    schema = schemathesis.openapi.from_dict(raw.json())

    def call(case: Any) -> requests.Response:
        return case.call(base_url=live_server_url, session=session, headers=auth, timeout=60)

    tested: list[str] = []
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]
        method, path = operation.method.upper(), operation.path
        if (method, path) in SKIP:
            continue
        fixed = {"project_id": project_id} if "{project_id}" in path else None
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed),
            operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed),
        )

        fuzz(strategy, lambda case, m=method, p=path: check_response(m, p, call(case)))
        tested.append(f"{method} {path}")
    assert len(tested) >= 30, tested
    print(f"fuzzed {len(tested)} operations in {time.monotonic() - started:.1f}s")
