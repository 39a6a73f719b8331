"""Class folders: ``root/<class>/*.jpg``; the folder name is the label.

Leading split folders are ignored, so ``root/train/cat/x.jpg`` and
``root/val/cat/y.jpg`` are both class ``cat`` (a split folder is only skipped
when a class folder follows it). Files deeper down belong to their top class
folder (``root/cat/indoor/z.jpg`` is ``cat``). Images directly in ``root`` are
reported one by one; files that are not images are counted by extension (one
summary line). A linked file that resolves outside the import folder is reported
and never read; linked folders are not entered.
"""

from __future__ import annotations

from pathlib import Path

from studio.datasets.images import is_image_name
from studio.datasets.importers import (
    ImportItem,
    ImportOptions,
    ParsedImport,
    inside,
    issue,
    natural_key,
    walk_files,
)
from studio.storage.dataset_schemas import Annotations

SPLIT_NAMES = frozenset(
    {"train", "training", "val", "valid", "validation", "test", "testing", "eval"}
)


def class_of(name: str) -> str | None:
    """The class folder of a relative file name, or None when it is not in one."""
    folders = name.split("/")[:-1]
    while len(folders) > 1 and folders[0].lower() in SPLIT_NAMES:
        folders = folders[1:]
    return folders[0].strip() if folders and folders[0].strip() else None


def parse(root: Path, options: ImportOptions) -> ParsedImport:
    result = ParsedImport()
    found: list[tuple[str, Path, str]] = []
    for name, path in walk_files(root):
        if not is_image_name(name):
            result.skip_file(name)
            continue
        label = class_of(name)
        if label is None:
            result.issues.append(
                issue(name, "not inside a class folder: put images in <folder>/<class name>/")
            )
            continue
        # os.walk does not enter linked folders, so only a linked file can point elsewhere
        source = inside(root, name) if path.is_symlink() else path
        if source is None:
            result.issues.append(issue(name, "is a link to a file outside the import folder"))
            continue
        found.append((name, source, label))
    result.class_names = sorted({label for _, _, label in found}, key=natural_key)
    index = {label: i for i, label in enumerate(result.class_names)}
    result.items = [
        ImportItem(source=source, name=name, annotations=Annotations(label=index[label]))
        for name, source, label in found
    ]
    return result
