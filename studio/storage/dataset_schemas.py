"""The dataset contract: what importers write and what training reads, for all seven tasks.

Files (under ``projects/<project_id>/dataset/``):

- ``dataset.json`` (:class:`DatasetFile`): class list with stable ids and colours,
  regression target names, counts, import summaries.
- ``images/<sha[:2]>/<sha>.<ext>``: image bytes, content-addressed (sha256).
- ``thumbs/<sha[:2]>/<sha>.jpg``: thumbnails.
- ``meta/<id[:2]>/<id>.json`` (:class:`ImageRecord`): one record per image, written atomically.
- ``masks/…``: semantic mask PNGs (pixel value = class id; 255 = ignore).
- ``imports/<import_id>.json`` (:class:`ImportReport`): what an import did and why it skipped what it skipped.

Coordinates are in pixels of the stored image, origin top-left. Class ids are
stable: a class keeps its id for the life of the dataset (new classes append).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from studio.storage.schemas import StrictModel, utcnow


class Box(StrictModel):
    """Axis-aligned box: class id + (x1, y1, x2, y2) in pixels."""

    class_id: int
    xyxy: tuple[float, float, float, float]


class OrientedBox(StrictModel):
    """Rotated box: centre, size, and angle in degrees (counter-clockwise, 0 = axis-aligned)."""

    class_id: int
    cx: float
    cy: float
    w: float
    h: float
    angle: float


class Rle(StrictModel):
    """COCO run-length encoding (compressed ``counts`` string) of a mask of ``size`` = [h, w]."""

    size: tuple[int, int]
    counts: str


class Instance(StrictModel):
    """One object's mask, as polygons (flat x,y lists) or RLE, with its box."""

    class_id: int
    polygons: list[list[float]] = Field(default_factory=list)
    rle: Rle | None = None
    xyxy: tuple[float, float, float, float] | None = None


class Annotations(StrictModel):
    """Everything a record can carry; each task reads the fields it needs."""

    label: int | None = None  # classification / anomaly: class id
    target: list[float] | None = None  # regression: one value per target name
    boxes: list[Box] = Field(default_factory=list)
    oriented_boxes: list[OrientedBox] = Field(default_factory=list)
    instances: list[Instance] = Field(default_factory=list)
    mask_path: str | None = None  # semantic segmentation: relative to the dataset folder


class ImageRecord(StrictModel):
    """``meta/<id[:2]>/<id>.json``: one image of the dataset."""

    schema_version: Literal[1] = 1
    id: str  # first 16 hex chars of sha256: stable across re-imports of the same bytes
    original_name: str
    path: str  # relative to the dataset folder
    thumb_path: str
    width: int
    height: int
    format: str  # "JPEG", "PNG", …
    bytes: int
    sha256: str
    imported_at: datetime = Field(default_factory=utcnow)
    import_id: str
    annotations: Annotations = Field(default_factory=Annotations)


class ClassInfo(StrictModel):
    id: int
    name: str
    color: str  # "#rrggbb"


class ImportIssue(StrictModel):
    """One line of an import report: a file that was skipped, and why."""

    file: str
    reason: str
    severity: Literal["error", "warning"] = "error"


class ImportReport(StrictModel):
    """``imports/<import_id>.json``."""

    schema_version: Literal[1] = 1
    id: str
    job_id: str | None = None
    source: str
    format: str
    status: Literal["running", "committed", "failed"] = "running"
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    added: int = 0
    duplicates: int = 0
    skipped: int = 0
    issues: list[ImportIssue] = Field(default_factory=list)
    error: str = ""


class ImportSummary(StrictModel):
    id: str
    format: str
    source: str
    status: str
    added: int
    duplicates: int
    skipped: int
    finished_at: datetime | None = None


class DatasetFile(StrictModel):
    """``dataset.json``: the dataset of one project (it grows by imports)."""

    schema_version: Literal[1] = 1
    project_id: str
    classes: list[ClassInfo] = Field(default_factory=list)
    target_names: list[str] = Field(default_factory=list)  # regression
    image_count: int = 0
    imports: list[ImportSummary] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)
