"""Bad image files, duplicates, the report, the digits dataset, commit recovery, the command."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from apps.datasets.models import Image as ImageRow
from apps.datasets.models import Import
from studio.datasets import store
from studio.datasets.dataset_import import ImportRequest, run_import
from studio.datasets.images import BadImage, decode_and_thumbnail
from studio.storage.paths import Workspace
from tests.datasets.helpers import class_tree, dataset_snapshot, image_bytes, reasons, write_image

pytestmark = pytest.mark.django_db


def test_bad_files_are_reported_and_good_ones_committed(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    root = class_tree(tmp_path / "pets", {"cat": 3})
    good = image_bytes(42, size=(64, 64))
    (root / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "cat" / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    (root / "cat" / "text.png").write_text("hello, I am not a PNG")
    (root / "cat" / "empty.jpg").write_bytes(b"")
    png = io.BytesIO()
    Image.new("RGB", (40, 40)).save(png, "PNG")
    broken = bytearray(png.getvalue())
    broken[40:60] = b"\x00" * 20  # damage the compressed data: checksum fails
    (root / "cat" / "crc.png").write_bytes(bytes(broken))
    report = do_import(root)
    assert report.status == "committed"
    assert report.added == 3
    why = reasons(report)
    assert set(why) == {
        "cat/truncated.jpg",
        "cat/garbage.jpg",
        "cat/text.png",
        "cat/empty.jpg",
        "cat/crc.png",
    }
    assert "truncated" in why["cat/truncated.jpg"]
    assert "cannot be read as an image" in why["cat/text.png"]
    assert why["cat/empty.jpg"] == "empty file"
    assert report.skipped == 5
    assert ImageRow.objects.filter(project_id=project.id).count() == 3


def test_decompression_bomb_is_refused(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any, monkeypatch: Any
) -> None:
    root = class_tree(tmp_path / "pets", {"cat": 1})
    write_image(root / "cat" / "big.png", 1, size=(300, 200))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)  # 300x200 = 60,000 pixels: a "bomb"
    report = do_import(root)
    assert report.added == 1
    assert "decompression bomb" in reasons(report)["cat/big.png"]
    with pytest.raises(BadImage, match="decompression bomb"):
        decode_and_thumbnail(image_bytes(1, size=(300, 200), fmt="PNG"), max_pixels=10**9)


def test_bomb_limit_reaches_pool_workers(
    tmp_path: Path, workspace: Workspace, project: Any
) -> None:
    root = class_tree(tmp_path / "pets", {"cat": 40})
    write_image(root / "cat" / "big.png", 1, size=(300, 200))
    req = ImportRequest(project.id, "ibomb", "class_folders", "classification", "test", root=root,
                        workers=2, max_pixels=50_000)  # fmt: skip
    report = run_import(workspace, req)
    assert report.added == 40
    assert "decompression bomb" in reasons(report)["cat/big.png"]


def test_thumbnails_of_odd_modes(tmp_path: Path) -> None:
    for mode, fmt in [
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("P", "GIF"),
        ("I;16", "PNG"),
        ("1", "BMP"),
        ("CMYK", "TIFF"),
    ]:
        img = Image.new(mode, (300, 100))
        out = io.BytesIO()
        img.save(out, fmt)
        found, w, h, thumb = decode_and_thumbnail(out.getvalue(), max_pixels=10**8)
        assert (found, w, h) == (fmt, 300, 100)
        assert Image.open(io.BytesIO(thumb)).size == (256, 85)


def test_jpeg_thumbnail_uses_draft_and_keeps_full_size() -> None:
    data = image_bytes(3, size=(640, 480))
    fmt, w, h, thumb = decode_and_thumbnail(data, max_pixels=10**8)
    assert (fmt, w, h) == ("JPEG", 640, 480)
    assert Image.open(io.BytesIO(thumb)).size == (256, 192)


def test_duplicates_within_and_across_imports(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    root = class_tree(tmp_path / "pets", {"cat": 2, "dog": 1})
    (root / "dog" / "copy_of_cat.jpg").write_bytes((root / "cat" / "cat_000.jpg").read_bytes())
    first = do_import(root)
    assert (first.added, first.duplicates) == (3, 1)
    assert "same image as cat/cat_000.jpg in this import" in reasons(first)["dog/copy_of_cat.jpg"]
    again = do_import(root)
    assert (again.added, again.duplicates, again.status) == (0, 4, "committed")
    assert "already in the dataset as cat/cat_000.jpg" in reasons(again)["cat/cat_000.jpg"]
    images = list((workspace.project_dir(project.id) / "dataset" / "images").rglob("*.jpg"))
    assert len(images) == 3
    dataset = store.load_dataset(workspace, project.id)
    assert dataset.image_count == 3 and len(dataset.imports) == 2
    assert ImageRow.objects.filter(project_id=project.id).count() == 3


def test_report_is_written_and_mirrored(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    root = class_tree(tmp_path / "pets", {"cat": 2})
    (root / "cat" / "x.txt").write_text("?")
    report = do_import(root)
    paths = store.dataset_paths(workspace, project.id)
    on_disk = store.read_report(paths, report.id)
    assert on_disk.status == "committed" and on_disk.added == 2 and on_disk.skipped == 1
    assert on_disk.finished_at is not None and on_disk.source == f"folder {root.resolve()}"
    row = Import.objects.get(id=report.id)
    assert (row.status, row.added, row.skipped, row.issue_count) == ("committed", 2, 1, 1)


def test_digits_through_the_service(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    """scikit-learn's 1,797 8x8 digits as PNGs in class folders (10 classes), via the pool."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path / "digits"
    for i, (pixels, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = root / str(target)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((pixels * 16).clip(0, 255).astype(np.uint8), "L").save(
            folder / f"{i:04d}.png"
        )
    report = do_import(root)
    unique = len({bytes(img.astype(np.uint8).tobytes()) for img in digits.images})
    assert report.status == "committed"
    assert report.added + report.duplicates == 1797 and report.added == unique
    assert report.skipped == 0
    dataset = store.load_dataset(workspace, project.id)
    assert [c.name for c in dataset.classes] == [str(d) for d in range(10)]
    assert ImageRow.objects.filter(project_id=project.id).count() == report.added
    sample = next(store.iter_records(workspace, project.id))
    assert (sample.width, sample.height, sample.format) == (8, 8, "PNG")


def test_interrupted_commit_is_rolled_back(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any, monkeypatch: Any
) -> None:
    do_import(class_tree(tmp_path / "a", {"cat": 2}))
    dataset_dir = workspace.project_dir(project.id) / "dataset"
    before_json = (dataset_dir / "dataset.json").read_bytes()

    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(
        store,
        "write_report",
        lambda paths, report: crash() if report.status == "committed" else None,
    )
    with pytest.raises(KeyboardInterrupt):
        do_import(class_tree(tmp_path / "b", {"dog": 2}, start_seed=50))
    monkeypatch.undo()
    assert (dataset_dir / "dataset.json").read_bytes() == before_json
    assert (dataset_dir / ".commit-journal.json").exists()
    assert len(list(store.iter_records(workspace, project.id))) == 2  # orphans are not records
    assert len(list((dataset_dir / "meta").rglob("*.json"))) == 4
    report = do_import(class_tree(tmp_path / "c", {"bird": 1}, start_seed=90))  # recovers first
    assert report.added == 1
    assert len(list((dataset_dir / "meta").rglob("*.json"))) == 3
    assert not (dataset_dir / ".commit-journal.json").exists()


def test_mirror_heals_when_dataset_json_changes(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any, api: Any
) -> None:
    do_import(class_tree(tmp_path / "a", {"cat": 2, "dog": 1}))
    ImageRow.objects.all().delete()
    Import.objects.all().delete()
    path = store.dataset_paths(workspace, project.id).dataset_file
    path.write_bytes(path.read_bytes() + b"\n")  # touched by hand (or a restored backup)
    assert api.get(f"/api/datasets/{project.id}/images").json()["count"] == 3
    assert Import.objects.filter(project_id=project.id).count() == 1


def test_import_dataset_command(
    tmp_path: Path, workspace: Workspace, project: Any, capsys: Any
) -> None:
    root = class_tree(tmp_path / "pets", {"cat": 2, "dog": 2})
    (root / "dog" / "x.txt").write_text("?")
    call_command("import_dataset", project.id, str(root), "--format", "class_folders")
    out = capsys.readouterr()
    assert "4 added, 0 duplicates, 1 skipped" in out.out
    assert "(not images): 1 file skipped (not images): .txt" in out.out
    assert store.load_dataset(workspace, project.id).image_count == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{pid}", "{tmp}/nope", "--format", "class_folders"], "does not exist"),
        (["{pid}", "relative/path", "--format", "class_folders"], "not an absolute path"),
        (["nosuchproject", "{tmp}", "--format", "class_folders"], "No project"),
        (["{pid}", "{tmp}/coco", "--format", "coco"], "not valid JSON"),
    ],
)
def test_import_dataset_command_errors(
    tmp_path: Path, project: Any, args: list[str], message: str
) -> None:
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "a.json").write_text("{oops")
    argv = [a.format(pid=project.id, tmp=tmp_path) for a in args]
    with pytest.raises(CommandError, match=message):
        call_command("import_dataset", *argv)


@pytest.mark.django_db(transaction=True)
def test_import_dataset_command_exit_code(tmp_path: Path, project: Any) -> None:
    import subprocess
    import sys

    from django.conf import settings

    from tests.conftest import ROOT, subprocess_env

    root = class_tree(tmp_path / "pets", {"cat": 2})
    env = subprocess_env(settings.WORKSPACE)
    good = subprocess.run([sys.executable, "manage.py", "import_dataset", project.id, str(root), "--format",
                           "class_folders"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert "2 added" in good.stdout
    assert "Importing" in good.stderr  # the tqdm bar
    bad = subprocess.run([sys.executable, "manage.py", "import_dataset", project.id, str(tmp_path / "nope"),
                          "--format", "class_folders"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 1
    assert "does not exist on the server" in bad.stderr


def test_failed_import_report_keeps_dataset(
    tmp_path: Path, workspace: Workspace, project: Any, do_import: Any
) -> None:
    do_import(class_tree(tmp_path / "a", {"cat": 2}))
    before = dataset_snapshot(workspace.project_dir(project.id) / "dataset")
    req = ImportRequest(project.id, "ifail", "csv", "classification", "test", root=tmp_path / "a")
    with pytest.raises(Exception, match="No CSV file"):
        run_import(workspace, req)
    assert dataset_snapshot(workspace.project_dir(project.id) / "dataset") == before
    report = store.read_report(store.dataset_paths(workspace, project.id), "ifail")
    assert report.status == "failed" and "No CSV file" in report.error
