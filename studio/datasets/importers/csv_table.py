"""CSV tables: ``path,label`` (label tasks) or ``path,<numeric columns…>`` (regression).

- The CSV is the annotation file given, or the only ``*.csv`` in the import folder.
  Paths in it are relative to the import folder (``/`` or ``\\`` separators).
- A first row whose first cell is not an image file name is a header. With a header,
  the path column is the one named ``path``/``file``/``filename``/``image`` (else the
  first). Which other columns count depends on the task (``options.rules``):

  - tasks with numeric targets (regression): every other column is a numeric target
    named by the header (``num_outputs`` = number of such columns);
  - other tasks: a column named ``label``/``class``/``category`` holds the label; without
    one, a table of exactly two columns uses its other column as the label (so
    ``file,is_defect`` works for anomaly detection); wider tables without a label column
    are read as numbers, and imported without labels (the pipeline warns that the task
    has nothing to train on, see ``apply_task_rules``).
- Without a header: two columns are ``path,label`` unless the task has numeric targets
  (then ``path,target``); more columns are ``path,target_1,target_2…``.
- Delimiter: comma, semicolon or tab (sniffed). Encoding: UTF-8 (a BOM is fine).

Every bad row is a report line naming the CSV file and line (``labels.csv:4``) and what is
wrong: wrong column count, empty path, a path that is not an image name, leaves the folder or
does not exist, a file listed twice, an empty label, a target that is missing (empty cell) or
not a number (``abc``, ``nan``, ``inf``). Cell contents are never quoted (the CSV may not be a
dataset at all: the report must not become a way to read a file); column names are shown only
when the CSV has at least one importable row, else columns are numbered.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from studio.datasets.images import is_image_name
from studio.datasets.importers import (
    ImportItem,
    ImportOptions,
    ParsedImport,
    find_annotation_file,
    inside,
    issue,
    natural_key,
)
from studio.errors import ValidationFailed
from studio.storage.dataset_schemas import Annotations

PATH_COLUMNS = frozenset(
    {"path", "file", "filename", "file_name", "filepath", "image", "image_path", "img"}
)
LABEL_COLUMNS = frozenset({"label", "class", "category", "class_name", "classname"})
MAX_CSV_BYTES = 256 * 1024 * 1024


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _value_problems(problems: list[tuple[int, bool]], names: list[str] | None) -> str:
    """Why a row's targets cannot be used: ``(column, is_empty)`` pairs, columns named by
    ``names`` (the header of an imported CSV) or numbered."""

    def column(i: int) -> str:
        return names[i] if names and i < len(names) and names[i] else f"column {i + 1}"

    bad = [column(i) for i, empty in problems if not empty]
    missing = [column(i) for i, empty in problems if empty]
    parts = []
    if bad:
        parts.append(f"not a number in {', '.join(bad)}")
    if missing:
        parts.append(f"missing value in {', '.join(missing)}")
    return "; ".join(parts)


def _read_rows(csv_path: Path) -> list[list[str]]:
    if csv_path.stat().st_size > MAX_CSV_BYTES:
        raise ValidationFailed(
            f"{csv_path.name} is larger than {MAX_CSV_BYTES // 2**20} MiB", code="bad_csv"
        )
    try:
        text = csv_path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # its message quotes the byte: give the offset only
        raise ValidationFailed(
            f"{csv_path.name} is not UTF-8 text (byte {exc.start})", code="bad_csv"
        ) from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:8192], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        return list(reader)
    except csv.Error:
        raise ValidationFailed(
            f"{csv_path.name}:{reader.line_num + 1} cannot be read as CSV", code="bad_csv"
        ) from None


def parse(root: Path, options: ImportOptions) -> ParsedImport:
    csv_path = find_annotation_file(root, options, ".csv", "CSV")
    where = csv_path.name
    rows = _read_rows(csv_path)
    numbered = [
        (n, row) for n, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)
    ]
    if not numbered:
        raise ValidationFailed(f"{where} has no rows", code="bad_csv")
    result = ParsedImport()
    first = [c.strip() for c in numbered[0][1]]
    has_header = not is_image_name(first[0])
    width = len(first)
    if width < 2:
        raise ValidationFailed(
            f"{where} needs at least two columns: a path and a label or a number", code="bad_csv"
        )
    numeric = options.rules.numeric_targets
    lowered = [c.lower() for c in first]
    if has_header:
        path_col = next((i for i, c in enumerate(lowered) if c in PATH_COLUMNS), 0)
        others = [i for i in range(width) if i != path_col]
        label_col = None
        if not numeric:
            named = [i for i in others if lowered[i] in LABEL_COLUMNS]
            label_col = named[0] if named else (others[0] if len(others) == 1 else None)
        target_cols = [] if label_col is not None else others
        body = numbered[1:]
    else:
        path_col = 0
        label_col = 1 if width == 2 and not numeric else None
        target_cols = [] if label_col is not None else list(range(1, width))
        body = numbered
    labelled: list[tuple[ImportItem, str]] = []
    seen: dict[str, int] = {}
    # (row, reason) or (row, target problems): target problems name columns only once we
    # know the CSV is imported (at least one good row), so they are worded at the end
    problems: list[tuple[str, str | list[tuple[int, bool]]]] = []
    for line, row in body:
        at = f"{where}:{line}"
        cells = [c.strip() for c in row]
        if len(cells) != width:
            problems.append((at, f"expected {width} columns, found {len(cells)}"))
            continue
        name = cells[path_col].replace("\\", "/")
        if not name:
            problems.append((at, "the image path is empty"))
            continue
        if not is_image_name(name):
            problems.append((at, "the image path does not name an image file (.jpg, .png…)"))
            continue
        source = inside(root, name)
        if source is None:
            problems.append((at, "the image path points outside the import folder"))
            continue
        if not source.is_file():
            problems.append((at, "the image path does not exist in the folder"))
            continue
        annotations = Annotations()
        label = ""
        if label_col is not None:
            if not cells[label_col]:
                problems.append((at, "the label is empty"))
                continue
            label = cells[label_col]
        else:
            values = [_number(cells[i]) for i in target_cols]
            wrong = [
                (i, not cells[i]) for i, v in zip(target_cols, values, strict=True) if v is None
            ]
            if wrong:
                problems.append((at, wrong))
                continue
            annotations.target = [float(v) for v in values if v is not None]
        if name in seen:
            problems.append((at, f"the image is listed twice (first on line {seen[name]})"))
            continue
        seen[name] = line
        item = ImportItem(source=source, name=name, annotations=annotations)
        result.items.append(item)
        if label_col is not None:
            labelled.append((item, label))
    imported = bool(result.items)
    names = first if has_header and imported else None
    if has_header and not imported and not any(c in PATH_COLUMNS for c in lowered):
        result.issues.append(issue(
            f"{where}:1", "line 1 is not a header Studio understands: name the image column "
            "path, file or image (and the label column label or class)", "warning",
        ))  # fmt: skip
    for at, reason in problems:
        text = reason if isinstance(reason, str) else _value_problems(reason, names)
        result.issues.append(issue(at, text))
    if names is not None:
        result.target_names = [names[i] or f"target_{k + 1}" for k, i in enumerate(target_cols)]
    elif len(target_cols) == 1:
        result.target_names = ["target"]
    else:
        result.target_names = [f"target_{k}" for k in range(1, len(target_cols) + 1)]
    result.class_names = sorted({label for _, label in labelled}, key=natural_key)
    index = {name: i for i, name in enumerate(result.class_names)}
    for item, label in labelled:
        item.annotations.label = index[label]
    return result
