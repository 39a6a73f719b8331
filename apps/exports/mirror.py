"""Keeping the export mirror equal to the workspace.

``exports_sync(project_id, experiment_id)`` compares each ``export.json``'s mtime with the
mirror and re-reads only what changed; rows whose folder is gone are dropped.
"""

from __future__ import annotations

import contextlib

from apps.core.workspace import ws
from apps.exports.models import Export
from studio.errors import StudioError
from studio.ml.export import store
from studio.ml.export.store import ExportOnDisk


def mirror_export(project_id: str, experiment_id: str, found: ExportOnDisk) -> None:
    """Write one export (valid or damaged) into the mirror."""
    x = found.export
    if x is None:
        Export.objects.update_or_create(
            id=found.id,
            defaults={"project_id": project_id, "experiment_id": experiment_id, "damaged": True,
                      "damage_reason": found.damage, "json_mtime_ns": found.mtime_ns},
        )  # fmt: skip
        return
    v = x.validation
    Export.objects.update_or_create(
        id=x.id,
        defaults={
            "project_id": project_id, "experiment_id": experiment_id, "format": x.format,
            "status": x.status, "checkpoint": x.checkpoint, "opset": x.opset, "model": x.model,
            "size": x.size, "sha256": x.sha256 or "", "job_id": x.job_id or "",
            "validation_passed": v.passed if v else None,
            "max_abs_diff": v.numeric.max_abs_diff if v and v.numeric else None,
            "agreement": v.parity.agreement if v and v.parity else None,
            "accuracy_delta": v.parity.accuracy_delta if v and v.parity else None,
            "error": x.error[:4000], "created_at": x.created_at, "finished_at": x.finished_at,
            "damaged": False, "damage_reason": "", "json_mtime_ns": found.mtime_ns,
        },
    )  # fmt: skip


def exports_sync(
    project_id: str, experiment_id: str, scan: list[ExportOnDisk] | None = None
) -> list[ExportOnDisk]:
    """Bring the experiment's export rows in line with disk; returns the scan."""
    found = scan if scan is not None else store.scan_exports(ws(), project_id, experiment_id)
    known = dict(
        Export.objects.filter(project_id=project_id, experiment_id=experiment_id).values_list(
            "id", "json_mtime_ns"
        )
    )
    for item in found:
        if known.get(item.id, -1) != item.mtime_ns:
            mirror_export(project_id, experiment_id, item)
    gone = set(known) - {item.id for item in found}
    if gone:
        Export.objects.filter(id__in=gone).delete()
    return found


def forget_export(export_id: str) -> None:
    Export.objects.filter(id=export_id).delete()


def rebuild_all() -> int:
    """Drop every export row and reload all projects' experiments; returns the row count."""
    Export.objects.all().delete()
    root = ws().projects_dir
    if root.exists():
        for project in sorted(root.iterdir()):
            experiments = project / "experiments"
            if project.name.startswith(".") or not experiments.is_dir():
                continue
            for folder in sorted(experiments.iterdir()):
                if folder.is_dir():
                    with contextlib.suppress(StudioError):  # a folder name that is no id
                        exports_sync(project.name, folder.name)
    return Export.objects.count()
