"""Datasets API: summary, list (pagination, every filter/sort), detail, file routes, imports."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from apps.datasets.models import Image as ImageRow
from studio.datasets import store
from studio.storage.paths import Workspace
from tests.datasets.helpers import class_tree, image_bytes, make_zip, write_image
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def pets(tmp_path: Path, project: Any, do_import: Any) -> Any:
    """cat x5, dog x3, bird x2 (bird images are PNG and bigger)."""
    root = class_tree(tmp_path / "pets", {"cat": 5, "dog": 3})
    for i in range(2):
        write_image(root / "bird" / f"bird_{i}.png", 900 + i, size=(120, 90))
    do_import(root)
    return project


def listing(api: Any, pid: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/api/datasets/{pid}/images", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_summary(api: Any, pets: Any) -> None:
    body = api.get(f"/api/datasets/{pets.id}/").json()
    assert body["image_count"] == 10
    assert [(c["name"], c["count"]) for c in body["classes"]] == [
        ("bird", 2),
        ("cat", 5),
        ("dog", 3),
    ]
    assert all(c["color"].startswith("#") for c in body["classes"])
    (imp,) = body["imports"]
    assert (
        imp["status"] == "committed"
        and imp["added"] == 10
        and imp["issues"] == []
        and imp["issue_count"] == 0
    )


def test_summary_of_an_empty_dataset(api: Any, project: Any) -> None:
    body = api.get(f"/api/datasets/{project.id}/").json()
    assert body["image_count"] == 0 and body["classes"] == [] and body["imports"] == []


def test_pagination(api: Any, pets: Any) -> None:
    first = listing(api, pets.id, page_size=4)
    assert (first["count"], first["pages"], first["page"]) == (10, 3, 1)
    assert first["previous"] is None and "page=2" in first["next"]
    seen = [item["id"] for item in first["results"]]
    for page in (2, 3):
        seen += [item["id"] for item in listing(api, pets.id, page_size=4, page=page)["results"]]
    assert len(seen) == len(set(seen)) == 10
    last = listing(api, pets.id, page_size=4, page=3)
    assert last["next"] is None and len(last["results"]) == 2
    item = first["results"][0]
    assert set(item) >= {"id", "name", "class_id", "label", "width", "height", "bytes", "format", "imported_at",
                         "thumbnail_url", "file_url"}  # fmt: skip
    assert_error(
        api.get(f"/api/datasets/{pets.id}/images", {"page": 4, "page_size": 4}), 404, "not_found"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 201}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": "x"}, "page"),
        ({"page": 0}, "page"),
    ],
)
def test_bad_paging_is_400(api: Any, pets: Any, params: dict[str, Any], field: str) -> None:
    err = assert_error(api.get(f"/api/datasets/{pets.id}/images", params), 400, "validation_error")
    assert field in err["details"]


def test_filter_by_class_id_name_and_none(api: Any, pets: Any, workspace: Workspace) -> None:
    classes = {c.name: c.id for c in store.load_dataset(workspace, pets.id).classes}
    by_id = listing(api, pets.id, **{"class": classes["dog"]})
    by_name = listing(api, pets.id, **{"class": "dog"})
    assert by_id["count"] == by_name["count"] == 3
    assert {i["label"] for i in by_id["results"]} == {"dog"}
    assert by_id["results"] == by_name["results"]
    assert listing(api, pets.id, **{"class": "none"})["count"] == 0
    err = assert_error(
        api.get(f"/api/datasets/{pets.id}/images", {"class": "unicorn"}), 400, "unknown_class"
    )
    assert "class" in err["details"]


def test_filter_by_name_substring(api: Any, pets: Any) -> None:
    assert {i["name"] for i in listing(api, pets.id, q="BIRD_")["results"]} == {
        "bird/bird_0.png",
        "bird/bird_1.png",
    }
    assert listing(api, pets.id, q="cat_00")["count"] == 5
    assert listing(api, pets.id, q="%")["count"] == 0  # no LIKE wildcards


@pytest.mark.parametrize("sort", ["name", "-name", "date", "-date", "size", "-size"])
def test_every_sort_is_stable_and_ordered(api: Any, pets: Any, sort: str) -> None:
    items = listing(api, pets.id, sort=sort, page_size=200)["results"]
    field = {"name": "name", "date": "imported_at", "size": "bytes"}[sort.lstrip("-")]
    keys = [(i[field], i["id"]) for i in items]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
    again = listing(api, pets.id, sort=sort, page_size=200)["results"]
    assert [i["id"] for i in again] == [i["id"] for i in items]


def test_sort_with_class_filter(api: Any, pets: Any) -> None:
    items = listing(api, pets.id, sort="-size", **{"class": "bird"})["results"]
    assert len(items) == 2 and items[0]["bytes"] >= items[1]["bytes"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"sort": "sha256"}, "unknown_sort"),
        ({"sort": "-width"}, "unknown_sort"),
        ({"sort": "name;drop"}, "unknown_sort"),
        ({"order_by": "name"}, "unknown_parameter"),
        ({"project_id": "x"}, "unknown_parameter"),
        ({"split": "s1"}, "split_filter"),
        ({"split": "s1", "subset": "train"}, "splits_unavailable"),
    ],
)
def test_refused_filters_and_sorts(
    api: Any, pets: Any, params: dict[str, str], code: str, monkeypatch: Any
) -> None:
    from apps.datasets import selectors

    monkeypatch.setattr(selectors, "_subset_filter", None)  # as before the splits app plugs in
    assert_error(api.get(f"/api/datasets/{pets.id}/images", params), 400, code)


def test_subset_filter_hook(api: Any, pets: Any) -> None:
    from apps.datasets import selectors

    calls: list[tuple[str, str, str]] = []

    def only_cats(qs: Any, project_id: str, split: str, subset: str) -> Any:
        calls.append((project_id, split, subset))
        return qs.filter(label="cat")

    before = selectors._subset_filter
    selectors.register_subset_filter(only_cats)
    try:
        body = listing(api, pets.id, split="s1", subset="train")
    finally:
        selectors.register_subset_filter(before)
    assert body["count"] == 5 and calls == [(pets.id, "s1", "train")]


def test_image_detail(api: Any, pets: Any) -> None:
    item = listing(api, pets.id, **{"class": "bird"})["results"][0]
    detail = api.get(item["url"]).json()
    assert detail["id"] == item["id"] and detail["original_name"] == item["name"]
    assert detail["label_name"] == "bird" and detail["annotations"]["label"] == item["class_id"]
    assert (detail["width"], detail["height"], detail["format"]) == (120, 90, "PNG")
    assert "path" not in detail and detail["sha256"].startswith(detail["id"])


def test_thumbnail_and_file(api: Any, pets: Any) -> None:
    item = listing(api, pets.id, **{"class": "bird"})["results"][0]
    thumb = api.get(item["thumbnail_url"], HTTP_ACCEPT="text/html")
    assert thumb.status_code == 200
    assert thumb["Content-Type"] == "image/jpeg"
    assert thumb["X-Content-Type-Options"] == "nosniff"
    assert thumb["Cache-Control"] == "private, max-age=86400"
    assert Image.open(io.BytesIO(b"".join(thumb.streaming_content))).size == (120, 90)
    original = api.get(item["file_url"])
    assert (
        original["Content-Type"] == "image/png" and original["X-Content-Type-Options"] == "nosniff"
    )
    assert original["ETag"] == f'"{api.get(item["url"]).json()["sha256"]}"'
    body = b"".join(original.streaming_content)
    assert Image.open(io.BytesIO(body)).format == "PNG"
    not_modified = api.get(item["file_url"], HTTP_IF_NONE_MATCH=original["ETag"])
    assert not_modified.status_code == 304 and not_modified["ETag"] == original["ETag"]
    assert api.get(item["file_url"], HTTP_IF_NONE_MATCH='"other"').status_code == 200
    assert api.get(item["thumbnail_url"], HTTP_IF_NONE_MATCH=thumb["ETag"]).status_code == 304


def test_content_type_comes_from_the_stored_format(
    tmp_path: Path, api: Any, project: Any, do_import: Any
) -> None:
    root = tmp_path / "lies"
    (root / "cat").mkdir(parents=True)
    (root / "cat" / "really_a_png.jpg").write_bytes(image_bytes(1, fmt="PNG"))
    do_import(root)
    item = listing(api, project.id)["results"][0]
    assert item["format"] == "PNG"
    assert api.get(item["file_url"])["Content-Type"] == "image/png"


TRAVERSALS = [
    "..", "%2e%2e", "..%2f..%2fsecret", "%2e%2e%2f%2e%2e%2fsecret", "%2fetc%2fpasswd", "0123456789abcdeg",
    "..%5c..%5csecret", "0123456789ABCDEF", "0123456789abcdef0", "%00",
]  # fmt: skip


@pytest.mark.parametrize("image_id", TRAVERSALS)
@pytest.mark.parametrize("route", ["", "/thumbnail", "/file"])
def test_traversal_on_image_routes(api: Any, project: Any, image_id: str, route: str) -> None:
    response = api.get(f"/api/datasets/{project.id}/images/{image_id}{route}")
    assert response.status_code in (400, 404)
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize("project_id", ["..", "%2e%2e", "..%2f..", "%2fetc", "ABC", "nope"])
@pytest.mark.parametrize("route", ["/", "/images", "/images/0123456789abcdef/file", "/imports"])
def test_traversal_on_project_id(api: Any, project: Any, project_id: str, route: str) -> None:
    response = api.get(f"/api/datasets/{project_id}{route}")
    assert response.status_code in (400, 404)
    assert set(response.json()) == {"error"}


def test_absolute_and_encoded_paths_never_serve_outside(
    api: Any, pets: Any, workspace: Workspace
) -> None:
    secret = workspace.root / "secret.txt"
    secret.write_text("top secret")
    for path in (
        f"/api/datasets/{pets.id}/images/..%2f..%2f..%2f..%2fsecret.txt/file",
        f"/api/datasets/{pets.id}/images/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        f"/api/datasets/{pets.id}/images/{secret}/file",
        f"/api/datasets/{pets.id}/images//etc/passwd/file",
    ):
        response = api.get(path)
        assert response.status_code in (400, 404), path
        assert b"top secret" not in response.content and b"root:" not in response.content


def test_record_with_a_path_outside_is_not_served(
    api: Any, pets: Any, workspace: Workspace
) -> None:
    """Even a tampered mirror row cannot point the file route outside the dataset."""
    row = ImageRow.objects.filter(project_id=pets.id).first()
    assert row is not None
    ImageRow.objects.filter(pk=row.pk).update(sha256="../../../../../../etc/passwd")
    assert_error(api.get(f"/api/datasets/{pets.id}/images/{row.image_id}/file"), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    ["/", "/images", "/images/0123456789abcdef", "/images/0123456789abcdef/thumbnail",
     "/images/0123456789abcdef/file", "/imports", "/imports/i123"],
)  # fmt: skip
def test_anonymous_is_401(anon_api: Any, pets: Any, path: str) -> None:
    assert_error(anon_api.get(f"/api/datasets/{pets.id}{path}"), 401, "not_authenticated")


def test_anonymous_import_is_401_and_stores_nothing(
    anon_api: Any, pets: Any, tmp_path: Path, workspace: Workspace
) -> None:
    archive = make_zip(tmp_path / "a.zip", {"cat/a.jpg": image_bytes(1)})
    with archive.open("rb") as fh:
        response = anon_api.post(
            f"/api/datasets/{pets.id}/import",
            {"source": "zip", "format": "class_folders", "file": fh},
        )
    assert_error(response, 401, "not_authenticated")
    assert_error(
        anon_api.post(f"/api/datasets/{pets.id}/import", {"source": "folder"}, format="json"),
        401,
        "not_authenticated",
    )
    uploads = workspace.project_dir(pets.id) / "dataset" / ".uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_token_auth_on_file_route(user: Any, anon_api: Any, pets: Any, api: Any) -> None:
    from rest_framework.authtoken.models import Token

    url = listing(api, pets.id)["results"][0]["thumbnail_url"]
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert anon_api.get(url).status_code == 200


def test_openapi_schema_lists_the_dataset_routes(api: Any) -> None:
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for route in ("/", "/images", "/images/{image_id}", "/images/{image_id}/thumbnail",
                  "/images/{image_id}/file", "/import", "/imports", "/imports/{import_id}"):  # fmt: skip
        assert f"/api/datasets/{{project_id}}{route}" in paths, route
