"""COCO JSON: ``categories``, ``images``, ``annotations`` (boxes, polygons, RLE).

- The JSON is the annotation file given, or the only ``*.json`` in the import
  folder (or its ``annotations/`` folder). ``file_name`` is looked up relative to
  the import folder, then the JSON's folder, then ``<folder>/images/``; a name that
  leaves the import folder (``../x.jpg``, ``/etc/x.jpg``) is reported, never read.
- Every annotation with a ``bbox`` becomes a box; one with a ``segmentation``
  (polygons, or RLE — compressed or not, normalised with pycocotools) also becomes
  an instance. Categories keep their COCO names; ids are re-mapped to dataset ids.
- Classification/anomaly projects: an image whose annotations use exactly one
  category gets it as its label; images with none or several are imported without
  a label and reported as warnings.
- A file that is not JSON or lacks the ``images``/``categories`` lists fails the
  import (the dataset stays as it was); a bad image or annotation entry is a report line.
- Report lines never quote the JSON's values: a bad image entry is named by its index
  (``instances.json image #3``), an annotation by its integer id or index; only names of
  image files found in the folder and category names of imported images are shown.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from pycocotools import mask as mask_utils

from studio.datasets.images import is_image_name
from studio.datasets.importers import (
    ImportItem,
    ImportOptions,
    ParsedImport,
    find_annotation_file,
    inside,
    issue,
)
from studio.errors import ValidationFailed
from studio.storage.dataset_schemas import Box, Instance, Rle

MAX_JSON_BYTES = 1024 * 1024 * 1024


def _load(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ValidationFailed(f"{path.name} is larger than 1 GiB", code="bad_annotations")
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:  # msg is the parser's complaint, never the text
        raise ValidationFailed(
            f"{path.name}:{exc.lineno} is not valid JSON ({exc.msg})", code="bad_annotations"
        ) from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{path.name} is not UTF-8 text (byte {exc.start})", code="bad_annotations"
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed(f"{path.name} is not a COCO file: the top level must be an object",
                               code="bad_annotations")  # fmt: skip
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise ValidationFailed(f"{path.name} is not a COCO file: {key!r} must be a list",
                                   code="bad_annotations")  # fmt: skip
    if not isinstance(data.get("annotations", []), list):
        raise ValidationFailed(f"{path.name} is not a COCO file: 'annotations' must be a list",
                               code="bad_annotations")  # fmt: skip
    return data


def _categories(data: dict[str, Any], where: str) -> tuple[list[str], dict[int, int]]:
    """Class names (in category-id order) and COCO category id -> local index."""
    cats: dict[int, str] = {}
    for n, cat in enumerate(data["categories"]):
        if (
            not isinstance(cat, dict)
            or not isinstance(cat.get("id"), int)
            or not isinstance(cat.get("name"), str)
        ):
            raise ValidationFailed(f"{where}: category #{n} needs an integer 'id' and a 'name'",
                                   code="bad_annotations")  # fmt: skip
        if cat["id"] in cats:
            raise ValidationFailed(
                f"{where}: category id {cat['id']} is listed twice", code="bad_annotations"
            )
        cats[cat["id"]] = cat["name"].strip() or f"category {cat['id']}"
    names: list[str] = []
    index: dict[int, int] = {}
    for cat_id in sorted(cats):
        if cats[cat_id] not in names:
            names.append(cats[cat_id])
        index[cat_id] = names.index(cats[cat_id])
    return names, index


def _numbers(value: Any, count: int | None = None) -> list[float] | None:
    if not isinstance(value, list) or (count is not None and len(value) != count):
        return None
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        return None
    return [float(v) for v in value]


def _segmentation(
    seg: Any, height: int | None, width: int | None
) -> tuple[list[list[float]], Rle | None]:
    """Polygons or an RLE; raises ValueError with a reason when malformed."""
    if isinstance(seg, list):
        polygons = []
        for poly in seg:
            numbers = _numbers(poly)
            if numbers is None or len(numbers) < 6 or len(numbers) % 2:
                raise ValueError("a polygon must be a flat list of at least 3 x,y pairs")
            polygons.append(numbers)
        return polygons, None
    if isinstance(seg, dict):
        size = seg.get("size")
        if not (
            isinstance(size, list)
            and len(size) == 2
            and all(isinstance(v, int) and v > 0 for v in size)
        ):
            raise ValueError("an RLE needs 'size': [height, width]")
        h, w = size
        counts = seg.get("counts")
        if isinstance(counts, list):
            if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != h * w:
                raise ValueError(f"uncompressed RLE counts must be non-negative and sum to {h}x{w}")
            rle = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
            text = rle["counts"].decode("ascii")
        elif isinstance(counts, str) and counts:
            text = counts
            try:
                mask_utils.area({"size": [h, w], "counts": text.encode("ascii")})
            except Exception:
                raise ValueError("compressed RLE counts cannot be decoded") from None
        else:
            raise ValueError("an RLE needs 'counts' (a list of ints or a compressed string)")
        if height and width and (h, w) != (height, width):
            raise ValueError(f"RLE size {h}x{w} differs from the image size {height}x{width}")
        return [], Rle(size=(h, w), counts=text)
    raise ValueError("segmentation must be a list of polygons or an RLE object")


def _integer(value: Any) -> bool:
    """Integers are shown in the report; other JSON values (strings…) never are."""
    return isinstance(value, int) and not isinstance(value, bool)


def _resolve(root: Path, bases: list[str], file_name: str) -> tuple[Path | None, str]:
    """(path, reason) — the first base where ``file_name`` exists inside ``root``."""
    name = file_name.replace("\\", "/")
    if inside(root, name) is None:
        return None, "file_name points outside the import folder"
    for base in bases:
        candidate = inside(root, f"{base}/{name}" if base else name)
        if candidate is not None and candidate.is_file():
            return candidate, ""
    return None, "file_name does not exist in the folder"


def parse(root: Path, options: ImportOptions) -> ParsedImport:
    ann_path = find_annotation_file(root, options, ".json", "COCO JSON")
    where = ann_path.name
    data = _load(ann_path)
    result = ParsedImport()
    result.class_names, cat_index = _categories(data, where)
    bases = [""]
    with_ann = ann_path.resolve()
    if root in with_ann.parents and with_ann.parent != root:
        bases.append(with_ann.parent.relative_to(root).as_posix())
    bases.append("images")

    images: dict[int, tuple[ImportItem, int | None, int | None]] = {}
    seen_files: set[Path] = set()
    listed_ids = {
        e.get("id")
        for e in data["images"]
        if isinstance(e, dict) and isinstance(e.get("id"), int | str)
    }
    for n, entry in enumerate(data["images"]):
        label = f"{where} image #{n}"
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("file_name"), str)
            or not entry["file_name"]
        ):
            result.issues.append(issue(label, "an image entry needs a 'file_name'"))
            continue
        name = entry["file_name"]
        if not isinstance(entry.get("id"), int | str) or entry["id"] in images:
            result.issues.append(issue(label, "missing or repeated image 'id'"))
            continue
        if not is_image_name(name):
            result.issues.append(
                issue(label, "file_name does not name an image file (.jpg, .png…)")
            )
            continue
        source, reason = _resolve(root, bases, name)
        if source is None:
            result.issues.append(issue(label, reason))
            continue
        if source in seen_files:
            result.issues.append(issue(name, f"{label}: the same file is listed twice"))
            continue
        seen_files.add(source)
        h, w = entry.get("height"), entry.get("width")
        images[entry["id"]] = (
            ImportItem(source=source, name=name),
            h if isinstance(h, int) else None,
            w if isinstance(w, int) else None,
        )

    used: dict[Any, set[int]] = defaultdict(set)
    for n, ann in enumerate(data.get("annotations", [])):
        ann_id = ann.get("id") if isinstance(ann, dict) else None
        ann_label = f"annotation {ann_id}" if _integer(ann_id) else f"annotation #{n}"
        image_id = ann.get("image_id") if isinstance(ann, dict) else None
        if not isinstance(image_id, int | str) or image_id not in images:
            if isinstance(image_id, int | str) and image_id in listed_ids:
                continue  # its image was skipped, and that is already reported
            shown = f" (image_id {image_id})" if _integer(image_id) else ""
            result.issues.append(
                issue(
                    where,
                    f"{ann_label} skipped: it refers to no imported image{shown}",
                    "warning",
                )
            )
            continue
        item, h, w = images[image_id]
        cat = ann.get("category_id")
        if not isinstance(cat, int) or cat not in cat_index:
            shown = f" {cat}" if _integer(cat) else ""
            result.issues.append(
                issue(item.name, f"{ann_label} skipped: unknown category{shown}", "warning")
            )
            continue
        cls = cat_index[cat]
        bbox = _numbers(ann.get("bbox"), 4) if "bbox" in ann else None
        if "bbox" in ann and (bbox is None or bbox[2] < 0 or bbox[3] < 0):
            result.issues.append(
                issue(
                    item.name, f"{ann_label} skipped: bbox must be [x, y, width, height]", "warning"
                )
            )
            continue
        try:
            polygons, rle = (
                _segmentation(ann["segmentation"], h, w) if ann.get("segmentation") else ([], None)
            )
        except ValueError as exc:
            result.issues.append(issue(item.name, f"{ann_label} skipped: {exc}", "warning"))
            continue
        if bbox is None and rle is not None:
            bbox = [
                float(v)
                for v in mask_utils.toBbox({"size": list(rle.size), "counts": rle.counts.encode()})
            ]
        xyxy = (bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]) if bbox else None
        if xyxy is not None:
            item.annotations.boxes.append(Box(class_id=cls, xyxy=xyxy))
        if polygons or rle is not None:
            item.annotations.instances.append(
                Instance(class_id=cls, polygons=polygons, rle=rle, xyxy=xyxy)
            )
        used[image_id].add(cls)

    for key, (item, _, _) in images.items():
        if options.rules.needs == "label":  # one class per image, from its objects
            classes = sorted(used.get(key, set()))
            if len(classes) == 1:
                item.annotations.label = classes[0]
            elif not classes:
                result.issues.append(
                    issue(
                        item.name, "has no annotations: imported without a class label", "warning"
                    )
                )
            else:
                listed = ", ".join(result.class_names[c] for c in classes)
                result.issues.append(
                    issue(
                        item.name,
                        f"has {len(classes)} categories ({listed}): imported without a class label",
                        "warning",
                    )
                )
        result.items.append(item)
    return result
