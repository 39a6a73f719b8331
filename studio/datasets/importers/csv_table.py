"""CSV tables: ``path,label`` (classification) or ``path,<numeric columns…>`` (regression).

- The CSV is the annotation file given, or the only ``*.csv`` in the import folder.
  Paths in it are relative to the import folder (``/`` or ``\\`` separators).
- A first row whose first cell is not an image file name is a header. With a header,
  the path column is the one named ``path``/``file``/``filename``/``image`` (else the
  first), a column named ``label``/``class``/``category`` holds the label, and
  otherwise every other column is a numeric target named by the header.
- Without a header: two columns are ``path,label`` unless the project task is
  regression (then ``path,target``); more columns are ``path,target_1,target_2…``.
- Delimiter: comma, semicolon or tab (sniffed). Encoding: UTF-8 (a BOM is fine).

Every bad row (wrong column count, empty path, a value that is not a number, a
path outside the folder, a missing file, a file listed twice) is a report line.
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
from studio.workspace.dataset_schemas import Annotations

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
    if has_header:
        lowered = [c.lower() for c in first]
        path_col = next((i for i, c in enumerate(lowered) if c in PATH_COLUMNS), 0)
        label_col = next(
            (i for i, c in enumerate(lowered) if c in LABEL_COLUMNS and i != path_col), None
        )
        target_cols = [] if label_col is not None else [i for i in range(width) if i != path_col]
        result.target_names = [first[i] or f"target_{k + 1}" for k, i in enumerate(target_cols)]
        body = numbered[1:]
    else:
        path_col = 0
        label_col = 1 if width == 2 and options.task != "regression" else None
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
            bad = [
                first[i] if has_header else f"column {i + 1}"
                for i, v in zip(target_cols, values, strict=True)
                if v is None
            ]
            if bad:
                result.issues.append(
                    issue(name, f"{where} line {line}: not a number in {', '.join(bad)}")
                )
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
    if (
        label_col is None
        and options.task in ("classification", "anomaly_detection")
        and result.items
    ):
        result.issues.append(
            issue(
                where,
                "the table has numbers but no label column: images are imported without a class label",
                "warning",
            )
        )
    return result
