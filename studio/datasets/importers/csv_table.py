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

Every bad row is a report line naming the CSV line: wrong column count, empty path, a
target that is missing (empty cell) or not a number (``abc``, ``nan``, ``inf``), a path
outside the folder, a missing file, a file listed twice.
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


def _value_problems(
    columns: list[int], values: list[float | None], cells: list[str], header: list[str] | None
) -> str:
    """Why a row's target values cannot be used ("" when they all can)."""
    missing, bad = [], []
    for i, value in zip(columns, values, strict=True):
        if value is not None:
            continue
        column = header[i] if header else f"column {i + 1}"
        if cells[i]:
            bad.append(f"{column} ({cells[i][:40]!r})")
        else:
            missing.append(column)
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
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{csv_path.name} is not UTF-8 text: {exc}", code="bad_csv"
        ) from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:8192], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    try:
        return list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise ValidationFailed(
            f"{csv_path.name} cannot be read as CSV: {exc}", code="bad_csv"
        ) from None


def parse(root: Path, options: ImportOptions) -> ParsedImport:
    csv_path = find_annotation_file(root, options, ".csv", "CSV")
    rows = _read_rows(csv_path)
    numbered = [
        (n, row) for n, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)
    ]
    if not numbered:
        raise ValidationFailed(f"{csv_path.name} has no rows", code="bad_csv")
    result = ParsedImport()
    first = [c.strip() for c in numbered[0][1]]
    has_header = not is_image_name(first[0])
    width = len(first)
    if width < 2:
        raise ValidationFailed(
            f"{csv_path.name} needs at least two columns: a path and a label or a number",
            code="bad_csv",
        )
    numeric = options.rules.numeric_targets
    if has_header:
        lowered = [c.lower() for c in first]
        path_col = next((i for i, c in enumerate(lowered) if c in PATH_COLUMNS), 0)
        others = [i for i in range(width) if i != path_col]
        label_col = None
        if not numeric:
            named = [i for i in others if lowered[i] in LABEL_COLUMNS]
            label_col = named[0] if named else (others[0] if len(others) == 1 else None)
        target_cols = [] if label_col is not None else others
        result.target_names = [first[i] or f"target_{k + 1}" for k, i in enumerate(target_cols)]
        body = numbered[1:]
    else:
        path_col = 0
        label_col = 1 if width == 2 and not numeric else None
        target_cols = [] if label_col is not None else list(range(1, width))
        if len(target_cols) == 1:
            result.target_names = ["target"]
        else:
            result.target_names = [f"target_{k}" for k in range(1, len(target_cols) + 1)]
        body = numbered
    labelled: list[tuple[ImportItem, str]] = []
    seen: dict[str, int] = {}
    where = csv_path.name
    for line, row in body:
        cells = [c.strip() for c in row]
        if len(cells) != width:
            result.issues.append(
                issue(f"{where} line {line}", f"expected {width} columns, found {len(cells)}")
            )
            continue
        name = cells[path_col].replace("\\", "/")
        if not name:
            result.issues.append(issue(f"{where} line {line}", "the path is empty"))
            continue
        annotations = Annotations()
        label = ""
        if label_col is not None:
            if not cells[label_col]:
                result.issues.append(issue(name, f"{where} line {line}: the label is empty"))
                continue
            label = cells[label_col]
        else:
            values = [_number(cells[i]) for i in target_cols]
            problems = _value_problems(target_cols, values, cells, first if has_header else None)
            if problems:
                result.issues.append(issue(name, f"{where} line {line}: {problems}"))
                continue
            annotations.target = [float(v) for v in values if v is not None]
        if not is_image_name(name):
            result.issues.append(
                issue(
                    name,
                    f"{where} line {line}: unsupported file type ({Path(name).suffix or 'no extension'})",
                )
            )
            continue
        source = inside(root, name)
        if source is None:
            result.issues.append(
                issue(name, f"{where} line {line}: the path points outside the import folder")
            )
            continue
        if not source.is_file():
            result.issues.append(issue(name, f"{where} line {line}: file not found"))
            continue
        if name in seen:
            result.issues.append(
                issue(name, f"{where} line {line}: listed twice (first on line {seen[name]})")
            )
            continue
        seen[name] = line
        item = ImportItem(source=source, name=name, annotations=annotations)
        result.items.append(item)
        if label_col is not None:
            labelled.append((item, label))
    result.class_names = sorted({label for _, label in labelled}, key=natural_key)
    index = {name: i for i, name in enumerate(result.class_names)}
    for item, label in labelled:
        item.annotations.label = index[label]
    return result
