"""``POST /api/datasets/{id}/import`` (folder, zip, files), zip safety and caps, the imports list."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from apps.core.services import job_execute
from studio.datasets import sources, store
from studio.errors import ValidationFailed
from studio.storage.paths import Workspace
from tests.datasets.helpers import class_tree, image_bytes, make_zip
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db


def start(api: Any, pid: str, **data: Any) -> dict[str, Any]:
    response = api.post(f"/api/datasets/{pid}/import", data, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def upload(api: Any, pid: str, files: list[tuple[str, bytes]], **data: Any) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload: dict[str, Any] = dict(data)
    payload["files"] = [SimpleUploadedFile(name, body) for name, body in files]
    return api.post(f"/api/datasets/{pid}/import", payload, format="multipart")


def no_uploads_left(ws: Workspace, pid: str) -> bool:
    folder = ws.project_dir(pid) / "dataset" / ".uploads"
    return not folder.exists() or not any(folder.iterdir())


def test_folder_import_as_a_job(
    folder_api: Any, project: Any, import_dir: Path, workspace: Workspace
) -> None:
    api = folder_api
    root = class_tree(import_dir / "pets", {"cat": 2, "dog": 1})
    started = start(api, project.id, source="folder", path=str(root), format="class_folders")
    assert set(started) == {"job_id", "import_id", "events_url"}
    assert started["events_url"] == f"/api/jobs/{started['job_id']}/events"
    queued = api.get(f"/api/datasets/{project.id}/imports").json()
    assert [(i["id"], i["status"], i["job_id"]) for i in queued] == [
        (started["import_id"], "running", started["job_id"])
    ]
    job_execute(started["job_id"])  # what the worker does
    job = api.get(f"/api/jobs/{started['job_id']}/").json()
    assert job["status"] == "succeeded", job
    assert job["result"] == {
        "import_id": started["import_id"],
        "added": 3,
        "duplicates": 0,
        "skipped": 0,
        "issues": 0,
    }
    report = api.get(f"/api/datasets/{project.id}/imports/{started['import_id']}").json()
    assert (
        report["status"] == "committed"
        and report["added"] == 3
        and report["job_id"] == started["job_id"]
    )
    assert api.get(f"/api/datasets/{project.id}/").json()["image_count"] == 3


def test_zip_upload_import(api: Any, project: Any, tmp_path: Path, workspace: Workspace) -> None:
    entries = {
        f"pets/{c}/{c}{i}.jpg": image_bytes(i + (10 if c == "dog" else 0))
        for c in ("cat", "dog")
        for i in range(3)
    }
    entries["pets/readme.md"] = b"# not an image"
    archive = make_zip(tmp_path / "pets.zip", entries)
    response = upload(
        api, project.id, [("pets.zip", archive.read_bytes())], source="zip", format="class_folders"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    job_execute(body["job_id"])
    report = api.get(f"/api/datasets/{project.id}/imports/{body['import_id']}").json()
    assert (report["status"], report["added"], report["skipped"]) == ("committed", 6, 1)
    assert report["source"] == "upload pets.zip"
    assert report["issues"][0]["file"] == "(not images)"
    assert report["issues"][0]["reason"] == "1 file skipped (not images): .md \u00d71"
    assert no_uploads_left(workspace, project.id)


def test_uploaded_files_with_a_label(api: Any, project: Any, workspace: Workspace) -> None:
    files = [(f"x{i}.jpg", image_bytes(i)) for i in range(3)]
    response = upload(api, project.id, files, source="files", format="class_folders", label="cat")
    assert response.status_code == 202, response.content
    job_execute(response.json()["job_id"])
    summary = api.get(f"/api/datasets/{project.id}/").json()
    assert summary["image_count"] == 3 and [c["name"] for c in summary["classes"]] == ["cat"]
    assert summary["imports"][0]["source"] == "3 uploaded files"
    assert no_uploads_left(workspace, project.id)


def test_uploaded_files_keep_relative_folders(api: Any, project: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"source": "files", "format": "class_folders",
               "files": [SimpleUploadedFile("a.jpg", image_bytes(1)), SimpleUploadedFile("b.jpg", image_bytes(2))],
               "relative_path": ["pets/cat/a.jpg", "pets/dog/b.jpg"]}  # fmt: skip
    response = api.post(f"/api/datasets/{project.id}/import", payload, format="multipart")
    assert response.status_code == 202, response.content
    job_execute(response.json()["job_id"])
    classes = [c["name"] for c in api.get(f"/api/datasets/{project.id}/").json()["classes"]]
    assert classes == ["cat", "dog"]


def test_uploaded_relative_path_cannot_escape(api: Any, project: Any, workspace: Workspace) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"source": "files", "format": "class_folders", "files": [SimpleUploadedFile("a.jpg", image_bytes(1))],
               "relative_path": ["../../../../escape.jpg"]}  # fmt: skip
    assert_error(
        api.post(f"/api/datasets/{project.id}/import", payload, format="multipart"),
        400,
        "bad_file_name",
    )
    assert no_uploads_left(workspace, project.id)


@pytest.mark.parametrize(
    ("entries", "symlinks", "reason"),
    [
        ({"../evil.jpg": b"x"}, {}, "outside the upload folder"),
        ({"ok/../../evil.jpg": b"x"}, {}, "outside the upload folder"),
        ({"/etc/evil.jpg": b"x"}, {}, "absolute path"),
        ({"C:/evil.jpg": b"x"}, {}, "absolute path"),
        ({"..\\evil.jpg": b"x"}, {}, "outside the upload folder"),
        ({"cat/a.jpg": b"x"}, {"cat/link.jpg": "/etc/passwd"}, "symbolic link"),
    ],
)
def test_hostile_zips_are_refused(api: Any, project: Any, tmp_path: Path, workspace: Workspace,
                                  entries: dict[str, bytes], symlinks: dict[str, str], reason: str) -> None:  # fmt: skip
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo("placeholder")
            info.filename = name  # ZipInfo() would normalise the name; a hostile tool does not
            zf.writestr(info, data)
        for name, target in symlinks.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    response = upload(
        api, project.id, [("evil.zip", archive.read_bytes())], source="zip", format="class_folders"
    )
    err = assert_error(response, 400, "zip_refused")
    assert reason in err["message"]
    assert no_uploads_left(workspace, project.id)
    assert not (tmp_path / "evil.jpg").exists() and not (workspace.root / "evil.jpg").exists()
    assert api.get(f"/api/datasets/{project.id}/imports").json() == []


def test_zip_caps(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {f"c/{i}.jpg": b"x" * 1000 for i in range(5)})
    with pytest.raises(ValidationFailed, match="5 entries; at most 4"):
        sources.check_zip(archive, sources.ZipCaps(max_entries=4))
    with pytest.raises(ValidationFailed, match="would unpack to"):
        sources.check_zip(archive, sources.ZipCaps(max_uncompressed_bytes=4000))
    assert (
        len(sources.check_zip(archive, sources.ZipCaps(max_entries=5, max_uncompressed_bytes=5000)))
        == 5
    )
    not_a_zip = tmp_path / "x.zip"
    not_a_zip.write_bytes(b"PK\x03\x04 nope")
    with pytest.raises(ValidationFailed, match="not a readable zip"):
        sources.check_zip(not_a_zip)


def test_zip_that_lies_about_its_size_is_stopped(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"c/big.jpg": b"\x00" * 100_000})
    raw = bytearray(archive.read_bytes())
    # declare 10 bytes in the central directory: the real data is much bigger
    with zipfile.ZipFile(archive) as zf:
        info = zf.infolist()[0]
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    assert info.file_size == 100_000
    with pytest.raises(ValidationFailed):
        sources.extract_zip(archive, tmp_path / "out", sources.ZipCaps(max_uncompressed_bytes=1000))
    assert not any(p.stat().st_size > 1000 for p in (tmp_path / "out").rglob("*") if p.is_file())


def test_upload_caps_over_the_api(
    api: Any, project: Any, settings: Any, workspace: Workspace
) -> None:
    settings.STUDIO_IMPORT_MAX_UPLOAD_BYTES = 10_000
    response = upload(
        api, project.id, [("big.zip", b"x" * 50_000)], source="zip", format="class_folders"
    )
    err = assert_error(response, 413, "upload_too_large")
    assert "9.8 KiB" in err["message"]
    assert no_uploads_left(workspace, project.id)
    settings.STUDIO_IMPORT_MAX_UPLOAD_BYTES = 10**9
    settings.STUDIO_IMPORT_MAX_ZIP_ENTRIES = 2
    archive = make_zip(
        Path(workspace.root) / "a.zip", {f"c/{i}.jpg": image_bytes(i) for i in range(3)}
    )
    response = upload(
        api, project.id, [("a.zip", archive.read_bytes())], source="zip", format="class_folders"
    )
    assert "3 entries; at most 2" in assert_error(response, 400, "zip_refused")["message"]


def test_not_a_zip_is_refused(api: Any, project: Any, workspace: Workspace) -> None:
    response = upload(api, project.id, [("a.zip", b"hello")], source="zip", format="class_folders")
    assert_error(response, 400, "bad_zip")
    assert no_uploads_left(workspace, project.id)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (
            {"source": "folder", "format": "class_folders", "path": "{imp}/not/here"},
            400,
            "path_not_found",
        ),
        (
            {"source": "folder", "format": "class_folders", "path": "/definitely/not/here"},
            400,
            "path_not_allowed",
        ),
        (
            {"source": "folder", "format": "class_folders", "path": "relative/dir"},
            400,
            "path_not_absolute",
        ),
        ({"source": "folder", "format": "class_folders"}, 400, "validation_error"),
        ({"source": "folder", "format": "yolo", "path": "/tmp"}, 400, "validation_error"),
        ({"source": "ftp", "format": "class_folders", "path": "/tmp"}, 400, "validation_error"),
        ({"source": "zip", "format": "class_folders"}, 400, "no_files"),
        (
            {"source": "folder", "format": "coco", "path": "{imp}", "annotations": "../../x.json"},
            400,
            "path_outside_import",
        ),
        (
            {"source": "folder", "format": "csv", "path": "{imp}", "annotations": "/etc/passwd"},
            400,
            "path_outside_import",
        ),
        ({"source": "folder", "format": "class_folders", "path": "{ws}"}, 400, "path_not_allowed"),
        (
            {"source": "folder", "format": "class_folders", "path": "{ws}/projects"},
            400,
            "path_not_allowed",
        ),
    ],
)
def test_bad_import_requests(
    folder_api: Any,
    project: Any,
    import_dir: Path,
    workspace: Workspace,
    data: dict[str, str],
    status: int,
    code: str,
) -> None:
    data = {k: v.format(imp=import_dir, ws=workspace.root) for k, v in data.items()}
    assert_error(
        folder_api.post(f"/api/datasets/{project.id}/import", data, format="json"), status, code
    )


def test_file_path_is_not_a_folder(folder_api: Any, project: Any, import_dir: Path) -> None:
    (import_dir / "a.jpg").write_bytes(image_bytes(1))
    data = {"source": "folder", "format": "class_folders", "path": str(import_dir / "a.jpg")}
    assert_error(
        folder_api.post(f"/api/datasets/{project.id}/import", data, format="json"),
        400,
        "path_not_a_folder",
    )


def test_import_roots_setting(folder_api: Any, project: Any, tmp_path: Path, settings: Any) -> None:
    api = folder_api
    allowed = class_tree(tmp_path / "allowed" / "pets", {"cat": 1})
    other = class_tree(tmp_path / "other", {"cat": 1})
    settings.STUDIO_IMPORT_ROOTS = [str(tmp_path / "allowed")]
    start(api, project.id, source="folder", path=str(allowed), format="class_folders")
    err = assert_error(api.post(f"/api/datasets/{project.id}/import",
                                {"source": "folder", "path": str(other), "format": "class_folders"},
                                format="json"), 400, "path_not_allowed")  # fmt: skip
    assert "outside the folders this server imports from" in err["message"]
    sneaky = str(tmp_path / "allowed" / ".." / "other")
    assert_error(api.post(f"/api/datasets/{project.id}/import",
                          {"source": "folder", "path": sneaky, "format": "class_folders"}, format="json"),
                 400, "path_not_allowed")  # fmt: skip


def test_unknown_project_import_is_404(api: Any) -> None:
    assert_error(api.post("/api/datasets/nope/import", {"source": "folder", "path": "/tmp", "format": "csv"},
                          format="json"), 404, "not_found")  # fmt: skip


def test_failed_job_report_and_cancel_while_queued(
    folder_api: Any, project: Any, import_dir: Path, workspace: Workspace
) -> None:
    api, tmp_path = folder_api, import_dir
    root = tmp_path / "coco"
    root.mkdir()
    (root / "a.json").write_text("{broken")
    started = start(api, project.id, source="folder", path=str(root), format="coco")
    job_execute(started["job_id"])
    job = api.get(f"/api/jobs/{started['job_id']}/").json()
    assert job["status"] == "failed" and "not valid JSON" in job["error"]
    report = api.get(f"/api/datasets/{project.id}/imports/{started['import_id']}").json()
    assert report["status"] == "failed" and "not valid JSON" in report["error"]
    assert not store.dataset_paths(workspace, project.id).dataset_file.exists()

    queued = start(api, project.id, source="folder", path=str(class_tree(tmp_path / "p", {"cat": 1})),
                   format="class_folders")  # fmt: skip
    assert api.post(f"/api/jobs/{queued['job_id']}/cancel").json()["status"] == "cancelled"
    listed = {i["id"]: i for i in api.get(f"/api/datasets/{project.id}/imports").json()}
    assert listed[queued["import_id"]]["status"] == "failed"
    assert "cancelled" in listed[queued["import_id"]]["error"]
