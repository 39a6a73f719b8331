"""Splits API: every endpoint, every error, immutability, delete-when-used, ``unassigned``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from studio.storage.paths import Workspace
from tests.splits.helpers import (
    counts_by_key,
    detections,
    labelled,
    make_project,
    targets,
    write_dataset,
)

pytestmark = pytest.mark.django_db
RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.fixture
def project(workspace: Workspace) -> str:
    pid = make_project(workspace)
    write_dataset(workspace, pid, labelled([0] * 50 + [1] * 30 + [2] * 20))
    return pid


def create(api: Any, pid: str, **body: Any) -> dict[str, Any]:
    response = api.post(f"/api/splits/{pid}/", {"ratios": RATIOS, "seed": 1, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_preview_counts_and_writes_nothing(api: Any, workspace: Workspace, project: str) -> None:
    response = api.post(
        f"/api/splits/{project}/preview", {"ratios": RATIOS, "seed": 3}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["strategy"] == "label"
    assert body["image_count"] == 100
    assert body["sizes"] == {"train": 80, "val": 10, "test": 10}
    rows = counts_by_key(body)
    assert rows["0"]["name"] == "cat"
    assert (rows["0"]["train"], rows["0"]["val"], rows["0"]["test"]) == (40, 5, 5)
    assert (rows["1"]["train"], rows["1"]["val"], rows["1"]["test"]) == (24, 3, 3)
    assert body["warnings"] == []
    assert not (workspace.project_dir(project) / "splits").exists()
    assert api.get(f"/api/splits/{project}/").json() == []


def test_preview_defaults_and_determinism(api: Any, project: str) -> None:
    a = api.post(f"/api/splits/{project}/preview", {}, format="json").json()
    b = api.post(
        f"/api/splits/{project}/preview", {"ratios": RATIOS, "seed": 0}, format="json"
    ).json()
    assert a == b and a["seed"] == 0 and a["ratios"] == RATIOS


def test_create_list_detail_delete(api: Any, workspace: Workspace, project: str) -> None:
    created = create(api, project, name="  Baseline   80/10/10 ")
    assert created["name"] == "Baseline 80/10/10"
    assert created["locked"] is True
    assert created["sizes"] == {"train": 80, "val": 10, "test": 10}
    assert created["unassigned"] == 0 and created["missing"] == 0 and created["used_by"] == []
    assert "assignments" not in created
    path = workspace.project_dir(project) / "splits" / f"{created['id']}.json"
    on_disk = json.loads(path.read_text())
    assert (
        on_disk["schema_version"] == 1 and on_disk["seed"] == 1 and on_disk["strategy"] == "label"
    )
    assert len(on_disk["assignments"]) == 100

    listed = api.get(f"/api/splits/{project}/").json()
    assert [s["id"] for s in listed] == [created["id"]]
    assert listed[0]["sizes"] == created["sizes"] and listed[0]["locked"] is True

    detail = api.get(f"/api/splits/{project}/{created['id']}").json()
    assert detail["counts"] == created["counts"] and "assignments" not in detail
    full = api.get(f"/api/splits/{project}/{created['id']}?include=assignments").json()
    assert full["assignments"] == on_disk["assignments"]

    assert api.delete(f"/api/splits/{project}/{created['id']}").status_code == 204
    assert not path.exists()
    assert api.get(f"/api/splits/{project}/").json() == []
    assert_error(api.get(f"/api/splits/{project}/{created['id']}"), 404, "not_found")


def test_default_names_and_duplicates(api: Any, project: str) -> None:
    assert create(api, project)["name"] == "Split 1"
    assert create(api, project, name="")["name"] == "Split 2"
    create(api, project, name="Mine")
    err = assert_error(
        api.post(f"/api/splits/{project}/", {"ratios": RATIOS, "name": "mine"}, format="json"),
        409,
        "duplicate_name",
    )
    assert "name" in err["details"]


def test_same_settings_same_assignment(api: Any, project: str) -> None:
    a = create(api, project, seed=5)
    b = create(api, project, seed=5)
    c = create(api, project, seed=6)

    def assignment(s: dict[str, Any]) -> dict[str, str]:
        return api.get(f"/api/splits/{project}/{s['id']}?include=assignments").json()["assignments"]

    assert assignment(a) == assignment(b) != assignment(c)


@pytest.mark.parametrize(
    ("ratios", "code", "field"),
    [
        ({"train": 0.8, "val": 0.1, "test": 0.2}, "invalid_ratios", "ratios"),
        ({"train": 0.5, "val": 0.1, "test": 0.1}, "invalid_ratios", "ratios"),
        ({"train": 1.2, "val": -0.1, "test": -0.1}, "invalid_ratios", "ratios"),
        ({"train": 0.0, "val": 0.5, "test": 0.5}, "invalid_ratios", "ratios"),
        ({"train": 0.8, "val": 0.2}, "validation_error", "ratios"),
        ({"train": "lots", "val": 0.1, "test": 0.1}, "validation_error", "ratios"),
        ("80/10/10", "validation_error", "ratios"),
    ],
)
def test_bad_ratios_are_400(api: Any, project: str, ratios: Any, code: str, field: str) -> None:
    for url in (f"/api/splits/{project}/preview", f"/api/splits/{project}/"):
        err = assert_error(api.post(url, {"ratios": ratios, "seed": 1}, format="json"), 400, code)
        assert field in err["details"]
    assert api.get(f"/api/splits/{project}/").json() == []


def test_ratio_rounding_tolerance_and_zero_subsets(api: Any, project: str) -> None:
    ok = api.post(
        f"/api/splits/{project}/preview",
        {"ratios": {"train": 0.7, "val": 0.2, "test": 0.1000005}},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    no_test = create(api, project, ratios={"train": 0.9, "val": 0.1, "test": 0})
    assert no_test["sizes"]["test"] == 0 and no_test["sizes"]["val"] == 10


@pytest.mark.parametrize("seed", [-1, 2**31, "abc", 1.5])
def test_bad_seed_is_400(api: Any, project: str, seed: Any) -> None:
    err = assert_error(
        api.post(f"/api/splits/{project}/preview", {"ratios": RATIOS, "seed": seed}, format="json"),
        400,
        "validation_error",
    )
    assert "seed" in err["details"]


def test_empty_dataset_is_400(api: Any, workspace: Workspace) -> None:
    pid = make_project(workspace, name="Empty")
    for url in (f"/api/splits/{pid}/preview", f"/api/splits/{pid}/"):
        assert_error(api.post(url, {"ratios": RATIOS}, format="json"), 400, "empty_dataset")
    write_dataset(workspace, pid, [])
    assert_error(
        api.post(f"/api/splits/{pid}/", {"ratios": RATIOS}, format="json"), 400, "empty_dataset"
    )


def test_unknown_project_and_split_are_404(api: Any, project: str) -> None:
    for method, url in [
        ("get", "/api/splits/pnope/"), ("post", "/api/splits/pnope/"),
        ("post", "/api/splits/pnope/preview"),
        ("get", "/api/splits/pnope/s123"), ("delete", "/api/splits/pnope/s123"),
        ("get", f"/api/splits/{project}/snope"), ("delete", f"/api/splits/{project}/snope"),
        ("patch", f"/api/splits/{project}/snope"), ("put", f"/api/splits/{project}/snope"),
        ("get", f"/api/splits/{project}/..%2F..%2Fproject"), ("get", "/api/splits/..%2Fx/"),
    ]:  # fmt: skip
        assert_error(getattr(api, method)(url, {"name": "x"}, format="json"), 404, "not_found")


def test_anonymous_is_401(anon_api: Any, project: str) -> None:
    for method, url in [
        ("get", f"/api/splits/{project}/"), ("post", f"/api/splits/{project}/"),
        ("post", f"/api/splits/{project}/preview"), ("get", f"/api/splits/{project}/s1"),
        ("patch", f"/api/splits/{project}/s1"), ("put", f"/api/splits/{project}/s1"),
        ("delete", f"/api/splits/{project}/s1"),
    ]:  # fmt: skip
        assert_error(getattr(anon_api, method)(url, {}, format="json"), 401, "not_authenticated")


def test_saved_split_is_immutable(api: Any, workspace: Workspace, project: str) -> None:
    split = create(api, project, name="Locked")
    url = f"/api/splits/{project}/{split['id']}"
    before = api.get(url + "?include=assignments").json()
    for body in (
        {"assignments": {k: "test" for k in before["assignments"]}},
        {"ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
        {"seed": 99},
        {"name": "Renamed", "seed": 99},
    ):
        err = assert_error(api.patch(url, body, format="json"), 409, "split_locked")
        assert err["details"]["fields"]
    assert_error(api.put(url, {"name": "x", "assignments": {}}, format="json"), 409, "split_locked")
    assert_error(api.post(url, {"assignments": {}}, format="json"), 405, "method_not_allowed")
    assert_error(api.patch(url, {}, format="json"), 400, "validation_error")
    assert_error(api.patch(url, {"name": "  "}, format="json"), 400, "validation_error")
    # Creating another split (even over the same images) never touches this one.
    create(api, project, seed=123)
    after = api.get(url + "?include=assignments").json()
    assert after["assignments"] == before["assignments"] and after["name"] == "Locked"


def test_rename_is_the_only_change(api: Any, project: str) -> None:
    split = create(api, project, name="Old")
    other = create(api, project, name="Other")
    url = f"/api/splits/{project}/{split['id']}"
    before = api.get(url + "?include=assignments").json()
    renamed = api.patch(url, {"name": "New name"}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["name"] == "New name"
    after = api.get(url + "?include=assignments").json()
    assert {k: v for k, v in after.items() if k != "name"} == {
        k: v for k, v in before.items() if k != "name"
    }
    assert [s["name"] for s in api.get(f"/api/splits/{project}/").json()] == ["New name", "Other"]
    assert_error(api.patch(url, {"name": "other"}, format="json"), 409, "duplicate_name")
    assert (
        api.patch(
            f"/api/splits/{project}/{other['id']}", {"name": "OTHER"}, format="json"
        ).status_code
        == 200
    )


def test_delete_refused_while_an_experiment_uses_it(
    api: Any, workspace: Workspace, project: str
) -> None:
    split = create(api, project)
    exp_dir = workspace.project_dir(project) / "experiments" / "e1"
    exp_dir.mkdir(parents=True)
    (exp_dir / "experiment.json").write_text(
        json.dumps({"id": "e1", "name": "ResNet baseline", "split_id": split["id"], "extra": 1})
    )
    other = workspace.project_dir(project) / "experiments" / "e2"
    other.mkdir()
    (other / "experiment.json").write_text("{ not json")
    err = assert_error(api.delete(f"/api/splits/{project}/{split['id']}"), 409, "split_in_use")
    assert "ResNet baseline" in err["message"]
    assert err["details"]["experiments"] == [{"id": "e1", "name": "ResNet baseline"}]
    detail = api.get(f"/api/splits/{project}/{split['id']}").json()
    assert detail["used_by"] == [{"id": "e1", "name": "ResNet baseline"}]
    (exp_dir / "experiment.json").write_text(json.dumps({"id": "e1", "split_id": "sother"}))
    assert api.delete(f"/api/splits/{project}/{split['id']}").status_code == 204


def test_images_imported_later_are_unassigned(api: Any, workspace: Workspace, project: str) -> None:
    split = create(api, project)
    before = api.get(f"/api/splits/{project}/{split['id']}?include=assignments").json()
    write_dataset(workspace, project, labelled([0] * 7, salt="later"), import_ids=("imp1", "imp2"))
    detail = api.get(f"/api/splits/{project}/{split['id']}?include=assignments").json()
    assert detail["unassigned"] == 7 and detail["missing"] == 0
    assert detail["assignments"] == before["assignments"]
    assert detail["image_count"] == 100
    # A new split includes them.
    assert create(api, project)["image_count"] == 107


def test_uncommitted_records_are_not_part_of_the_dataset(
    api: Any, workspace: Workspace, project: str
) -> None:
    from tests.splits.helpers import image_id, record

    rec = record(image_id(1, "pending"), import_id="imp-running")
    write_dataset(workspace, project, [rec])  # dataset.json lists only imp1 as committed
    assert (
        api.post(f"/api/splits/{project}/preview", {}, format="json").json()["image_count"] == 100
    )


def test_detection_and_regression_strategies(api: Any, workspace: Workspace) -> None:
    det = make_project(workspace, "object_detection", "Boxes")
    write_dataset(workspace, det, detections([[0], [0, 1], [1, 1], [], [2]] * 10))
    body = api.post(f"/api/splits/{det}/preview", {"seed": 2}, format="json").json()
    assert body["strategy"] == "class_presence"
    rows = counts_by_key(body)
    assert (
        rows["no_objects"]["total"] == 10 and rows["0"]["total"] == 20 and rows["1"]["total"] == 20
    )

    reg = make_project(workspace, "regression", "Ages")
    write_dataset(
        workspace, reg, targets([float(i) for i in range(60)] + [None] * 4), target_names=["age"]
    )
    body = api.post(f"/api/splits/{reg}/preview", {"seed": 2}, format="json").json()
    assert body["strategy"] == "target_bins"
    rows = counts_by_key(body)
    assert rows["unlabelled"]["total"] == 4
    bins = [r for r in body["counts"] if r["key"].startswith("bin:")]
    assert len(bins) == 6 and all(r["total"] == 10 for r in bins)
    assert bins[0]["name"].startswith("age 0")


def test_small_classes_warn_but_split(api: Any, workspace: Workspace) -> None:
    pid = make_project(workspace, name="Tiny")
    write_dataset(workspace, pid, labelled([0] * 20 + [1] + [2, 2] + [None] * 5))
    body = api.post(f"/api/splits/{pid}/preview", {"seed": 1}, format="json").json()
    rows = counts_by_key(body)
    assert (rows["1"]["train"], rows["1"]["val"], rows["1"]["test"]) == (1, 0, 0)
    assert (rows["2"]["train"], rows["2"]["val"], rows["2"]["test"]) == (1, 1, 0)
    assert rows["unlabelled"]["total"] == 5
    small = [w for w in body["warnings"] if w["code"] == "small_class"]
    assert {w["group"] for w in small} == {"1", "2"}
    assert any("dog" in w["message"] for w in small)


def test_damaged_split_file(api: Any, workspace: Workspace, project: str) -> None:
    split = create(api, project)
    path = workspace.project_dir(project) / "splits" / f"{split['id']}.json"
    path.write_text("{broken")
    listed = api.get(f"/api/splits/{project}/").json()
    assert listed[0]["damaged"] is True and listed[0]["damage_reason"]
    assert_error(api.get(f"/api/splits/{project}/{split['id']}"), 409, "damaged")
    assert_error(
        api.patch(f"/api/splits/{project}/{split['id']}", {"name": "x"}, format="json"),
        409,
        "damaged",
    )
    assert api.delete(f"/api/splits/{project}/{split['id']}").status_code == 204
    assert api.get(f"/api/splits/{project}/").json() == []


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ({"train": 1.0, "val": 0.0, "test": 0.0}, {("empty_subset", "val"), ("empty_subset", "test")}),
        ({"train": 0.01, "val": 0.0, "test": 0.99}, {("subset_too_small", "train"), ("empty_subset", "val")}),
        ({"train": 0.97, "val": 0.02, "test": 0.01}, {("subset_too_small", "val"), ("subset_too_small", "test")}),
    ],
)  # fmt: skip
def test_preview_warns_about_empty_and_too_small_subsets(
    api: Any, project: str, ratios: dict[str, float], expected: set[tuple[str, str]]
) -> None:
    """The split is still allowed (200 / 201) but the preview and the saved split say why
    it is a poor one: an empty subset, or fewer images in a subset than there are classes."""
    body = api.post(f"/api/splits/{project}/preview", {"ratios": ratios}, format="json").json()
    subset_codes = {"empty_subset", "subset_too_small"}
    found = {(w["code"], w["group"]) for w in body["warnings"] if w["code"] in subset_codes}
    assert found == expected
    messages = " ".join(w["message"] for w in body["warnings"])
    if ("empty_subset", "val") in expected:
        assert "Validation is empty" in messages
    if ("subset_too_small", "train") in expected:
        assert "Train has 1 image for 3 classes" in messages
    saved = create(api, project, ratios=ratios)
    assert {(w["code"], w["group"]) for w in saved["warnings"] if w["code"] in subset_codes} == (
        expected
    )


def test_regression_bins_are_not_classes_for_the_size_warning(
    api: Any, workspace: Workspace
) -> None:
    pid = make_project(workspace, task="regression", name="Ages")
    write_dataset(workspace, pid, targets([float(i) for i in range(60)]), target_names=("age",))
    body = api.post(f"/api/splits/{pid}/preview", {"seed": 0}, format="json").json()
    assert [w for w in body["warnings"] if w["code"] == "subset_too_small"] == []
