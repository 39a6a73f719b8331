"""The import format registry and the one interface every format implements.

Adding a format = one module in this package with a ``parse(root, options)``
function, plus one line in ``FORMATS`` below (imported lazily).

Contract of ``parse(root: Path, options: ImportOptions) -> ParsedImport``:

- ``root`` is an existing, resolved folder; every file an importer hands back is
  resolved *inside* it (:func:`inside`), so a name like ``../x.jpg``, an absolute
  path or a symlink out of the folder becomes an issue, never a file read.
- Class ids in the returned annotations are *local* indexes into
  ``ParsedImport.class_names``; the commit maps them to stable dataset ids.
- Task-specific reading (numbers vs. labels in a CSV, which labels a task needs) comes
  from ``options.rules`` (:mod:`studio.datasets.conventions`), never from ``options.task``
  comparisons. The pipeline applies the task's post-parse rules (:func:`apply_task_rules`).
- A bad entry (missing file, unknown category, malformed row…) is an
  :class:`ImportIssue` in ``issues``; only input that makes the whole import
  meaningless (unparseable annotation file, no annotation file) raises a
  :class:`studio.errors.ValidationFailed`, which fails the import with the
  dataset unchanged. Importers never open images: the pipeline does.
- Files that are not images are not listed one by one: :meth:`ParsedImport.skip_file`
  counts them by extension and the pipeline reports one summary line.
- Issues and errors never quote the content of an annotation file (a CSV cell, a
  JSON value): the file given for imports is not necessarily a dataset, and the report
  is shown to the user. A row is named by file and line (``labels.csv:4``), an entry by
  its index (``instances.json image #3``); names of image files found in the folder,
  and a CSV's column names once the CSV has an importable row, may be shown.
"""

from __future__ import annotations

import importlib
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.datasets.conventions import (
    NEED_TEXT,
    TaskImportRules,
    binary_renames,
    has_need,
    rules_for,
)
from studio.datasets.store import remap
from studio.errors import StudioError, ValidationFailed
from studio.storage.dataset_schemas import Annotations, ImportIssue
from studio.storage.paths import resolve_inside


@dataclass(frozen=True)
class ImportOptions:
    task: str  # the project's task type ("classification", …)
    annotations: Path | None = None  # an annotation file (CSV / COCO JSON), already resolved

    @property
    def rules(self) -> TaskImportRules:
        """What the task reads from an import (see :mod:`studio.datasets.conventions`)."""
        return rules_for(self.task)


@dataclass
class ImportItem:
    source: Path  # resolved, inside the import root
    name: str  # display name: path relative to the import root, with "/"
    annotations: Annotations = field(default_factory=Annotations)


@dataclass
class ParsedImport:
    class_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    items: list[ImportItem] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    skipped_types: Counter[str] = field(default_factory=Counter)  # extension -> files not read

    def skip_file(self, name: str) -> None:
        """Count a file that is not an image (summarised by extension, not listed)."""
        self.skipped_types[file_type(name)] += 1


TIMES = "\N{MULTIPLICATION SIGN}"


def file_type(name: str) -> str:
    """``.txt``, ``no extension``, or ``other`` for an extension too odd to show."""
    suffix = Path(name).suffix.lower()
    if not suffix:
        return "no extension"
    return suffix if len(suffix) <= 12 and re.fullmatch(r"\.[a-z0-9_+-]+", suffix) else "other"


def skipped_summary(types: Counter[str], shown: int = 8) -> str:
    """``312 files skipped (not images): .conf x120, .txt x80, no extension x112`` (with
    the multiplication sign), the most frequent kinds first."""
    total = sum(types.values())
    kinds = types.most_common()
    text = ", ".join(f"{kind} {TIMES}{count}" for kind, count in kinds[:shown])
    if len(kinds) > shown:
        text += f", {len(kinds) - shown} more kinds"
    return f"{total} file{'s' if total != 1 else ''} skipped (not images): {text}"


Importer = Callable[[Path, ImportOptions], ParsedImport]


@dataclass(frozen=True)
class FormatInfo:
    name: str
    label: str
    description: str
    implementation: str  # "module:function"


FORMATS: dict[str, FormatInfo] = {
    info.name: info
    for info in (
        FormatInfo("class_folders", "Class folders", "root/<class>/*.jpg (train/val/test parents are ignored)",
                   "studio.datasets.importers.class_folders:parse"),
        FormatInfo("csv", "CSV table", "path,label or path,<numbers…> (header optional)",
                   "studio.datasets.importers.csv_table:parse"),
        FormatInfo("coco", "COCO JSON", "categories, images, boxes, polygons, RLE masks",
                   "studio.datasets.importers.coco:parse"),
    )
}  # fmt: skip


def format_info(name: str) -> FormatInfo:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValidationFailed(
            f"Unknown import format {name!r}; choose one of: {', '.join(FORMATS)}",
            code="unknown_format",
            details={"format": [f"Choose one of: {', '.join(FORMATS)}"]},
        ) from None


def get_importer(name: str) -> Importer:
    module, _, attr = format_info(name).implementation.partition(":")
    importer: Importer = getattr(importlib.import_module(module), attr)
    return importer


# ---- helpers shared by importers ---------------------------------------------

SKIPPED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini"})


def walk_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix name, path) of every file under ``root``, sorted, hidden ones skipped.

    Symlinked folders are not followed (they could loop or leave ``root``);
    symlinked files are returned and checked by :func:`inside` like any name.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d not in SKIPPED_NAMES
        )
        for name in sorted(filenames):
            if name.startswith(".") or name in SKIPPED_NAMES:
                continue
            path = Path(dirpath) / name
            yield path.relative_to(root).as_posix(), path


def inside(root: Path, name: str) -> Path | None:
    """``name`` resolved under ``root`` (symlinks followed), or None if it escapes."""
    if not name or "\x00" in name:
        return None
    if Path(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
        return None  # absolute, or a Windows drive path
    try:
        return resolve_inside(root, name)
    except (StudioError, OSError, ValueError):
        return None


def natural_key(text: str) -> list[tuple[int, int | str]]:
    """Sort key that puts "2" before "10" (and "img2" before "img10")."""
    return [
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", text)
        if part
    ]


def issue(file: str, reason: str, severity: str = "error") -> ImportIssue:
    return ImportIssue(file=file, reason=reason, severity=severity)  # type: ignore[arg-type]


def find_annotation_file(root: Path, options: ImportOptions, suffix: str, what: str) -> Path:
    """The annotation file given in the options, or the only ``*<suffix>`` in ``root``
    (or ``root/annotations``); a missing or ambiguous one fails the import."""
    if options.annotations is not None:
        if not options.annotations.is_file():
            raise ValidationFailed(f"The annotation file {options.annotations} does not exist",
                                   code="annotations_missing")  # fmt: skip
        return options.annotations
    for folder in (root, root / "annotations"):
        # a linked file is taken only when it resolves inside the import folder
        candidates = sorted(p for p in folder.glob(f"*{suffix}") if not p.name.startswith("."))
        resolved = [inside(root, p.relative_to(root).as_posix()) for p in candidates]
        found = [p for p in resolved if p is not None and p.is_file()]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(p.name for p in found[:5])
            raise ValidationFailed(
                f"Several {what} files found ({names}); name the one to use as the annotation file",
                code="annotations_ambiguous",
            )
    raise ValidationFailed(
        f"No {what} file found in the import folder; add one or name it as the annotation file",
        code="annotations_missing",
    )


def apply_task_rules(parsed: ParsedImport, rules: TaskImportRules) -> ParsedImport:
    """The task's post-parse conventions, for every format (called once by the pipeline).

    - 0/1 labels become the task's ``binary_classes`` names (:func:`binary_renames`); two
      spellings of one value (``0`` and ``false``) merge into one class.
    - An import whose items carry none of what the task trains on gets one warning.
    """
    renamed = binary_renames(parsed.class_names, rules)
    if renamed is not None and rules.binary_classes is not None:
        normal, anomalous = rules.binary_classes
        names = [n for n in rules.binary_classes if n in renamed]  # value 0 first: lower id
        mapping = [names.index(n) for n in renamed]
        for item in parsed.items:
            item.annotations = remap(item.annotations, mapping)
        parsed.issues.append(issue(
            "labels", f"the labels {', '.join(parsed.class_names)} were read as the classes "
            f"{', '.join(names)} ({normal} = 0, {anomalous} = 1)", "warning",
        ))  # fmt: skip
        parsed.class_names = names
    if parsed.items and not any(has_need(i.annotations, rules.needs) for i in parsed.items):
        parsed.issues.append(issue(
            "import", f"no image of this import has {NEED_TEXT[rules.needs]}, which this "
            "project's task trains on: the images are imported but cannot be trained on yet",
            "warning",
        ))  # fmt: skip
    return parsed
