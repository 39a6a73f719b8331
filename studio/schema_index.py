"""Every workspace JSON file's pydantic model, by name: what ``manage.py export_schemas`` writes.

A feature that adds a workspace file adds one line here.
"""

from __future__ import annotations

from pydantic import BaseModel

from studio.splits.schemas import SplitFile
from studio.storage.dataset_schemas import DatasetFile, ImageRecord, ImportReport
from studio.storage.evaluation_schemas import (
    EvaluationAggregate,
    EvaluationRecord,
    EvaluationResults,
)
from studio.storage.experiment_schemas import ExperimentFile, MetricRow
from studio.storage.export_schemas import ExportFile
from studio.storage.schemas import JobEvent, JobFile, ProjectFile, WorkspaceFile

ALL_SCHEMAS: dict[str, type[BaseModel]] = {
    "workspace": WorkspaceFile,
    "project": ProjectFile,
    "job": JobFile,
    "job_event": JobEvent,
    "dataset": DatasetFile,
    "image_record": ImageRecord,
    "import_report": ImportReport,
    "split": SplitFile,
    "experiment": ExperimentFile,
    "metric_row": MetricRow,
    "export": ExportFile,
    "evaluation": EvaluationRecord,
    "evaluation_results": EvaluationResults,
    "evaluation_aggregate": EvaluationAggregate,
}
