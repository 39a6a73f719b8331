"""Response shapes of the datasets API.

The list endpoints build plain dicts (:func:`image_item`, :func:`summary`) because
they run on every page of a 100k-image grid; the serializer classes describe the
same shapes for the OpenAPI schema and validate the import request.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.pagination import Page
from studio.datasets.importers import FORMATS
from studio.storage.dataset_schemas import DatasetFile, ImageRecord


def image_urls(project_id: str, image_id: str) -> dict[str, str]:
    base = f"/api/datasets/{project_id}/images/{image_id}"
    return {"url": base, "thumbnail_url": f"{base}/thumbnail", "file_url": f"{base}/file"}


def image_item(project_id: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["image_id"], "name": row["name"], "class_id": row["class_id"], "label": row["label"] or None,
        "width": row["width"], "height": row["height"], "bytes": row["bytes"], "format": row["format"],
        "imported_at": row["imported_at"].isoformat(), "import_id": row["import_id"],
        "target": row["target"], **image_urls(project_id, row["image_id"]),
    }  # fmt: skip


def page_body(project_id: str, page: Page[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    def link(number: int) -> str:
        from urllib.parse import urlencode

        return f"/api/datasets/{project_id}/images?{urlencode({**query, 'page': number})}"

    return {
        "count": page.count, "page": page.page, "page_size": page.page_size, "pages": page.pages,
        "next": link(page.page + 1) if page.page < page.pages else None,
        "previous": link(page.page - 1) if page.page > 1 else None,
        "results": [image_item(project_id, row) for row in page.results],
    }  # fmt: skip


def summary(
    dataset: DatasetFile,
    counts: dict[int | None, int],
    imports: list[dict[str, Any]],
    target_stats: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "project_id": dataset.project_id,
        "image_count": sum(counts.values()),
        "unlabelled_count": counts.get(None, 0),
        "classes": [{"id": c.id, "name": c.name, "color": c.color, "count": counts.get(c.id, 0)}
                    for c in dataset.classes],
        "target_names": dataset.target_names,
        "targets": target_stats or [],
        "updated_at": dataset.updated_at.isoformat(),
        "imports": imports,
    }  # fmt: skip


def image_detail(project_id: str, record: ImageRecord, dataset: DatasetFile) -> dict[str, Any]:
    names = {c.id: c.name for c in dataset.classes}
    label = record.annotations.label
    data = record.model_dump(mode="json", exclude={"schema_version", "path", "thumb_path"})
    data.update(
        label_name=names.get(label) if label is not None else None,
        **image_urls(project_id, record.id),
    )
    data["classes"] = {str(k): v for k, v in names.items()}
    data["target_names"] = dataset.target_names
    return data


# ---- schema-only shapes --------------------------------------------------------


class ClassSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()
    count = serializers.IntegerField()


class IssueSerializer(serializers.Serializer[Any]):
    file = serializers.CharField()
    reason = serializers.CharField()
    severity = serializers.ChoiceField(choices=["error", "warning"])


class ReportSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    job_id = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    format = serializers.CharField()
    status = serializers.ChoiceField(choices=["running", "committed", "failed"])
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    added = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    skipped = serializers.IntegerField()
    issue_count = serializers.IntegerField()
    issues = IssueSerializer(many=True)
    error = serializers.CharField()


class TargetStatsSerializer(serializers.Serializer[Any]):
    """One regression target: count of images with a value, range, mean, 10-bin histogram."""

    name = serializers.CharField()
    count = serializers.IntegerField()
    min = serializers.FloatField(required=False)
    max = serializers.FloatField(required=False)
    mean = serializers.FloatField(required=False)
    edges = serializers.ListField(child=serializers.FloatField(), required=False)
    counts = serializers.ListField(child=serializers.IntegerField(), required=False)


class SummarySerializer(serializers.Serializer[Any]):
    project_id = serializers.CharField()
    image_count = serializers.IntegerField()
    unlabelled_count = serializers.IntegerField()
    classes = ClassSerializer(many=True)
    target_names = serializers.ListField(child=serializers.CharField())
    targets = TargetStatsSerializer(many=True)
    updated_at = serializers.DateTimeField()
    imports = ReportSerializer(many=True)


class ImageItemSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()
    class_id = serializers.IntegerField(allow_null=True)
    label = serializers.CharField(allow_null=True)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    bytes = serializers.IntegerField()
    format = serializers.CharField()
    imported_at = serializers.DateTimeField()
    import_id = serializers.CharField()
    target = serializers.ListField(
        child=serializers.FloatField(), allow_null=True,
        help_text="Regression targets in the dataset's target_names order (null: none)",
    )  # fmt: skip
    url = serializers.CharField()
    thumbnail_url = serializers.CharField()
    file_url = serializers.CharField()


class ImagePageSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = ImageItemSerializer(many=True)


class ImportRequestSerializer(serializers.Serializer[Any]):
    """JSON body (folder) or multipart form (zip / files) of ``POST …/import``."""

    source = serializers.ChoiceField(choices=["folder", "zip", "files"], default="folder")
    format = serializers.ChoiceField(choices=list(FORMATS))
    path = serializers.CharField(required=False, allow_blank=True, default="", max_length=4096)
    annotations = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=4096
    )
    label = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["source"] == "folder" and not attrs.get("path", "").strip():
            raise serializers.ValidationError(
                {"path": ["Give the path of a folder on the server."]}
            )
        return attrs


class ImportStartedSerializer(serializers.Serializer[Any]):
    job_id = serializers.CharField()
    import_id = serializers.CharField()
    events_url = serializers.CharField()
