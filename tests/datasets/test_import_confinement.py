"""Server-folder imports are confined (roots, workspace, symlinks, permission); reports never
quote a file's content; an import without images fails; zip bombs are refused."""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.core.services import job_execute
from apps.datasets import conf
from studio.datasets import dataset_import, sources
from studio.errors import StudioError, ValidationFailed
from studio.storage.paths import Workspace
from tests.datasets.helpers import class_tree, image_bytes, make_zip, write_image
from tests.projects.test_api import assert_error

pytestmark = pytest.mark.django_db
TIMES = "\N{MULTIPLICATION SIGN}"


def post_folder(api: Any, pid: str, path: Path | str, fmt: str = "class_folders") -> Any:
    body = {"source": "folder", "path": str(path), "format": fmt}
    return api.post(f"/api/datasets/{pid}/import", body, format="json")


def run(api: Any, pid: str, response: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Execute the started job in-process; (job, report) as the API shows them."""
    assert response.status_code == 202, response.content
    started = response.json()
    with contextlib.suppress(StudioError):  # a failed import fails its job
        job_execute(started["job_id"])
    job = api.get(f"/api/jobs/{started['job_id']}/").json()
    report = api.get(f"/api/datasets/{pid}/imports/{started['import_id']}").json()
    return job, report


def upload_zip(api: Any, pid: str, archive: Path, fmt: str = "class_folders") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"source": "zip", "format": fmt,
               "files": [SimpleUploadedFile(archive.name, archive.read_bytes())]}  # fmt: skip
    return api.post(f"/api/datasets/{pid}/import", payload, format="multipart")


def nothing_uploaded(ws: Workspace, pid: str) -> bool:
    folder = ws.project_dir(pid) / "dataset" / ".uploads"
    return not folder.exists() or not any(folder.rglob("*"))


# ---- roots -------------------------------------------------------------------------


def test_the_default_root_is_the_workspace_import_folder(
    workspace: Workspace, monkeypatch: Any
) -> None:
    monkeypatch.delenv("STUDIO_IMPORT_ROOTS", raising=False)
    assert workspace.import_dir == workspace.root / "import" and workspace.import_dir.is_dir()
    assert conf.import_roots() == [workspace.import_dir]
    monkeypatch.setenv("STUDIO_IMPORT_ROOTS", f"/data/a{os.pathsep}/data/b,/data/c")
    assert conf.import_roots() == [
        workspace.import_dir,
        *map(Path, ("/data/a", "/data/b", "/data/c")),
    ]


@pytest.mark.parametrize(
    "path", ["/etc", "/proc/self", "/root", "/", "{ws}", "{ws}/projects", "{parent}", "{ws}/.."]
)
def test_folders_outside_the_roots_are_refused(
    staff_api: Any, project: Any, workspace: Workspace, import_dir: Path, path: str
) -> None:
    path = path.format(ws=workspace.root, parent=workspace.root.parent)
    err = assert_error(post_folder(staff_api, project.id, path), 400, "path_not_allowed")
    assert err["details"]["roots"] == [str(import_dir)]
    if path in ("/etc", "/root"):
        assert err["message"] == (
            f"{path} is outside the folders this server imports from ({import_dir}); "
            "put the folder in one of them"
        )
    assert staff_api.get(f"/api/datasets/{project.id}/imports").json() == []


def test_a_broad_root_never_opens_the_workspace_or_what_contains_it(
    staff_api: Any, project: Any, workspace: Workspace, settings: Any, tmp_path: Path
) -> None:
    settings.STUDIO_IMPORT_ROOTS = ["/"]
    for path in ("/", workspace.root.parent, workspace.root, workspace.root / "projects",
                 workspace.root / ".secrets", "/proc/self"):  # fmt: skip
        assert_error(post_folder(staff_api, project.id, path), 400, "path_not_allowed")
    elsewhere = class_tree(tmp_path / "elsewhere", {"cat": 1})  # a sibling of the workspace
    assert post_folder(staff_api, project.id, elsewhere).status_code == 202


def test_symlinks_leaving_a_root_are_refused(
    staff_api: Any, project: Any, workspace: Workspace, import_dir: Path, tmp_path: Path
) -> None:
    (import_dir / "etc").symlink_to("/etc")
    (import_dir / "ws").symlink_to(workspace.root / "projects")
    outside = class_tree(tmp_path / "outside", {"cat": 1})
    (import_dir / "out").symlink_to(outside)
    (outside / "labels.csv").write_text("cat/cat_000.jpg,cat\n")
    (import_dir / "labels.csv").symlink_to(outside / "labels.csv")
    for name, fmt in (("etc", "class_folders"), ("ws", "class_folders"), ("out", "class_folders"),
                      ("labels.csv", "csv")):  # fmt: skip
        response = post_folder(staff_api, project.id, import_dir / name, fmt)
        assert_error(response, 400, "path_not_allowed")


def test_links_inside_the_folder_that_leave_it_are_skipped(
    staff_api: Any, project: Any, import_dir: Path, tmp_path: Path
) -> None:
    root = class_tree(import_dir / "pets", {"cat": 1})
    write_image(tmp_path / "secret" / "s.jpg", 9)
    (root / "cat" / "link.jpg").symlink_to(tmp_path / "secret" / "s.jpg")
    (root / "dog").symlink_to(tmp_path / "secret")  # linked folders are not entered
    job, report = run(staff_api, project.id, post_folder(staff_api, project.id, root))
    assert job["status"] == "succeeded" and report["added"] == 1
    why = {i["file"]: i["reason"] for i in report["issues"]}
    assert "outside the import folder" in why["cat/link.jpg"]
    assert not any("s.jpg" in f for f in why)


def test_a_csv_whose_images_are_outside_the_folder_imports_nothing(
    staff_api: Any, project: Any, import_dir: Path, tmp_path: Path
) -> None:
    write_image(tmp_path / "outside.jpg", 1)
    folder = import_dir / "csvset"
    folder.mkdir()
    (folder / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    rows = ["../../outside.jpg,cat", f"{tmp_path / 'outside.jpg'},cat", "link.jpg,cat"]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    job, report = run(
        staff_api, project.id, post_folder(staff_api, project.id, folder / "labels.csv", "csv")
    )
    assert job["status"] == "failed" and report["status"] == "failed"
    assert report["error"].startswith("No images found")
    assert [(i["file"], i["reason"]) for i in report["issues"]] == [
        (f"labels.csv:{n}", "the image path points outside the import folder") for n in (1, 2, 3)
    ]
    assert staff_api.get(f"/api/datasets/{project.id}/").json()["image_count"] == 0


# ---- who may use server folders ------------------------------------------------------


def test_only_allowed_users_import_server_folders(
    api: Any, staff_api: Any, user: Any, project: Any, import_dir: Path, tmp_path: Path
) -> None:
    from tests.datasets.conftest import grant_server_folders

    assert not user.is_staff
    root = class_tree(import_dir / "x", {"cat": 2, "dog": 1})
    err = assert_error(post_folder(api, project.id, root), 403, "permission_denied")
    assert "upload a zip" in err["message"]
    assert_error(
        post_folder(api, project.id, "/etc"), 403, "permission_denied"
    )  # before any path check
    # … but a zip upload works for everyone
    archive = make_zip(
        tmp_path / "pets.zip", {f"pets/cat/{i}.jpg": image_bytes(i) for i in range(2)}
    )
    job, report = run(api, project.id, upload_zip(api, project.id, archive))
    assert job["status"] == "succeeded" and report["added"] == 2
    # staff may, from <workspace>/import/x
    job, report = run(staff_api, project.id, post_folder(staff_api, project.id, root))
    assert job["status"] == "succeeded" and report["added"] == 3
    # and an admin can grant the permission to a non-staff user
    grant_server_folders(user)
    assert post_folder(api, project.id, root).status_code == 202


def test_the_dialog_offers_server_folders_only_to_allowed_users(
    client: Any, user: Any, staff_user: Any, project: Any, import_dir: Path
) -> None:
    url = f"/projects/{project.id}/dataset/"
    client.force_login(user)
    page = client.get(url).content.decode()
    assert 'value="folder"' not in page and str(import_dir) not in page
    assert "source = 'zip'" in page  # the dialog starts on the zip source
    client.force_login(staff_user)
    page = client.get(url).content.decode()
    assert 'value="folder"' in page and f"<code>{import_dir}</code>" in page


def test_the_command_line_reads_any_folder_but_the_workspace(
    project: Any, workspace: Workspace, tmp_path: Path
) -> None:
    for path in (workspace.root, workspace.root.parent, workspace.root / "projects", "/proc/self"):
        with pytest.raises(CommandError) as refused:
            call_command("import_dataset", project.id, str(path), "--format", "class_folders")
        assert getattr(refused.value.__cause__, "code", "") == "path_not_allowed"
    elsewhere = class_tree(tmp_path / "elsewhere", {"cat": 1})  # outside every import root
    call_command("import_dataset", project.id, str(elsewhere), "--format", "class_folders")
    inside = class_tree(workspace.import_dir / "more", {"dog": 1}, start_seed=5)
    call_command("import_dataset", project.id, str(inside), "--format", "class_folders")


# ---- reports never quote a file ---------------------------------------------------------

SECRETS = {
    "secrets.csv": "key,value\nDB_PASSWORD,hunter2-XyZ\nAPI_TOKEN,tok-98765-QWE\n",
    "status.csv": "Name:\tpython-XyZ\nUmask:\t0022\nUid:\t1000\t1000\t1000\t1000\nVmPeak:\t 123 kB\n",
    "env.csv": "HOME=/root;SECRET=tok-98765-QWE\nPATH=/usr/bin;X=1\n",
}
LEAKS = ("DB_PASSWORD", "hunter2", "XyZ", "tok-98765", "QWE", "Umask", "VmPeak", "SECRET", "HOME")


@pytest.mark.parametrize("name", sorted(SECRETS))
@pytest.mark.parametrize("task_project", ["project", "regression_project"])
def test_a_secrets_file_read_as_csv_fails_without_quoting_it(
    staff_api: Any, import_dir: Path, request: Any, name: str, task_project: str
) -> None:
    project = request.getfixturevalue(task_project)
    folder = import_dir / "conf"
    folder.mkdir()
    (folder / name).write_text(SECRETS[name])
    job, report = run(
        staff_api, project.id, post_folder(staff_api, project.id, folder / name, "csv")
    )
    assert job["status"] == "failed" and report["status"] == "failed" and report["error"]
    assert all(i["file"].startswith(f"{name}:") for i in report["issues"])
    shown = json.dumps([job, report, staff_api.get(f"/api/datasets/{project.id}/").json()])
    assert not [leak for leak in LEAKS if leak in shown], shown
    lines = " ".join(f"{i['file']} {i['reason']}" for i in report["issues"])
    if name == "secrets.csv":  # a header that names no path column is said to be one
        assert report["error"].startswith("No images found")
        assert "line 1 is not a header Studio understands" in lines
        assert "key" not in lines and "value" not in lines  # not even the column names


def test_a_folder_without_images_fails_with_a_summary_by_extension(
    staff_api: Any, project: Any, import_dir: Path
) -> None:
    root = import_dir / "etc"
    for i in range(3):
        (root / "conf.d" / f"site{i}.conf").parent.mkdir(parents=True, exist_ok=True)
        (root / "conf.d" / f"site{i}.conf").write_text("x")
    for i in range(2):
        (root / f"note{i}.txt").write_text("x")
    (root / "shadow-like").write_text("root:x")
    job, report = run(staff_api, project.id, post_folder(staff_api, project.id, root))
    summary = f"6 files skipped (not images): .conf {TIMES}3, .txt {TIMES}2, no extension {TIMES}1"
    assert job["status"] == "failed" and report["status"] == "failed"
    assert report["error"] == f"No images found: {summary}" and job["error"] == report["error"]
    assert report["issues"] == [{"file": "(not images)", "reason": summary, "severity": "error"}]
    assert report["skipped"] == 6 and report["added"] == 0
    assert "site0" not in json.dumps(report) and "shadow-like" not in json.dumps(report)


def test_a_zip_without_images_fails(api: Any, project: Any, tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "docs.zip", {"docs/a.txt": b"x", "docs/b.txt": b"y"})
    job, report = run(api, project.id, upload_zip(api, project.id, archive))
    assert job["status"] == "failed" and report["error"].startswith("No images found")


def test_long_reports_are_capped(
    staff_api: Any, project: Any, import_dir: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(dataset_import, "MAX_ISSUES", 3)
    root = class_tree(import_dir / "pets", {"cat": 1})
    for i in range(5):
        write_image(root / f"loose{i}.jpg", 20 + i)  # images outside a class folder: listed
    _, report = run(staff_api, project.id, post_folder(staff_api, project.id, root))
    assert report["added"] == 1 and report["skipped"] == 5
    assert (
        len(report["issues"]) == 4 and report["issues"][-1]["reason"] == "2 more lines not listed"
    )


# ---- zip amplification ----------------------------------------------------------------


def zeros_zip(path: Path, entries: dict[str, int]) -> Path:
    """A zip whose entries are ``size`` zero bytes, streamed (nothing big in memory or on disk)."""
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, size in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as out:
                for _ in range(size // len(chunk)):
                    out.write(chunk)
    return path


def test_a_zip_bomb_is_refused_before_anything_is_written(
    api: Any, project: Any, tmp_path: Path, workspace: Workspace
) -> None:
    bomb = zeros_zip(tmp_path / "bomb.zip", {"pets/cat/zeros.jpg": 20 * 1024 * 1024})
    assert bomb.stat().st_size < 200_000  # ~20 MiB of zeros deflate to ~20 KiB
    err = assert_error(upload_zip(api, project.id, bomb), 400, "zip_refused")
    assert "more than 100 times" in err["message"]
    assert nothing_uploaded(workspace, project.id)
    # many entries under the per-entry floor: the whole zip's ratio still counts
    spread = zeros_zip(tmp_path / "spread.zip", {f"c/{i}.jpg": 4 * 1024 * 1024 for i in range(5)})
    with pytest.raises(ValidationFailed, match="more than 100 times its size"):
        sources.check_zip(spread)


def test_zip_entry_size_cap(api: Any, project: Any, tmp_path: Path, settings: Any) -> None:
    settings.STUDIO_IMPORT_MAX_ZIP_ENTRY_BYTES = 1024 * 1024
    archive = make_zip(tmp_path / "big.zip", {"pets/cat/big.jpg": os.urandom(2 * 1024 * 1024)})
    err = assert_error(upload_zip(api, project.id, archive), 400, "zip_refused")
    assert "one file may be at most 1.0 MiB" in err["message"]


def test_small_compressible_files_pass_the_ratio(tmp_path: Path) -> None:
    rows = "".join(f"cat/{i % 7}.jpg,cat\n" for i in range(100_000))  # ~1.4 MB, compresses >100x
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("d/labels.csv", rows)
    info = sources.check_zip(archive)[0]
    assert info.file_size > 100 * info.compress_size  # over the ratio, under the 8 MiB floor


def test_extraction_counts_real_bytes_and_removes_what_it_wrote(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """If the headers passed the check (a lying zip), writing stops at the caps."""
    bomb = zeros_zip(tmp_path / "bomb.zip", {"b.jpg": 20 * 1024 * 1024})

    def unchecked(path: Path, caps: Any = None) -> list[zipfile.ZipInfo]:
        with zipfile.ZipFile(path) as zf:
            return zf.infolist()

    monkeypatch.setattr(sources, "check_zip", unchecked)
    dest = tmp_path / "out"
    with pytest.raises(ValidationFailed, match="expands more than 100 times"):
        sources.extract_zip(bomb, dest)
    assert not dest.exists()
    with pytest.raises(ValidationFailed, match=r"unpacks to more than 1\.0 MiB"):
        sources.extract_zip(bomb, dest, sources.ZipCaps(max_entry_bytes=1024 * 1024, max_ratio=1e9))
    assert not dest.exists()


def test_an_annotation_file_found_in_the_folder_must_not_lead_out_of_it(
    staff_api: Any, project: Any, import_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "secrets.csv").write_text("a.jpg,DB_PASSWORD\n")
    folder = import_dir / "set"
    write_image(folder / "a.jpg", 1)
    (folder / "labels.csv").symlink_to(tmp_path / "secrets.csv")  # found by the importer
    job, report = run(staff_api, project.id, post_folder(staff_api, project.id, folder, "csv"))
    assert job["status"] == "failed" and report["error"].startswith("No CSV file found")
    assert "DB_PASSWORD" not in json.dumps([job, report])
