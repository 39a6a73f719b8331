"""``manage.py evaluate <project_id> <experiment_id>``: evaluate in this process, no worker."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.evaluation import selectors, services
from studio.ml import evaluate as core
from studio.storage.evaluation_schemas import EvaluationAggregate

SummaryFn = Callable[[EvaluationAggregate, str], list[str]]
THRESHOLD_SOURCES = {
    "val": "best F1 on the validation images",
    "all": "best F1 on the evaluated images themselves: optimistic",
    "default": "default, no images of both outcomes to choose from",
}


class Command(StudioCommand):
    help = (
        "Evaluate a trained experiment's checkpoint on subsets of its split, in this process "
        "(the results appear on the Evaluation page and in the API)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")
        parser.add_argument("experiment_id")
        parser.add_argument(
            "--checkpoint",
            default="",
            help="checkpoint file name, e.g. best.ckpt (default: the best one)",
        )
        parser.add_argument(
            "--subsets", default="test", help="comma-separated subsets of the split (default: test)"
        )
        parser.add_argument("--batch-size", type=int, default=64, help="default 64")
        parser.add_argument("--device", default="",
                            help="cpu or cuda (default: cuda when this machine has one)")  # fmt: skip

    def handle(self, *args: Any, **opts: Any) -> None:
        from tqdm import tqdm

        project_id, experiment_id = opts["project_id"], opts["experiment_id"]
        checkpoint = opts["checkpoint"]
        if not checkpoint:
            found = selectors.checkpoint_list(project_id, experiment_id)
            checkpoint = found[0].name if found else "best.ckpt"
        config = core.make_config(
            checkpoint=checkpoint, subsets=opts["subsets"].split(","),
            batch_size=opts["batch_size"], device=opts["device"] or services.default_device(),
        )  # fmt: skip
        bar = tqdm(total=0, unit="img", desc="Evaluating", file=sys.stderr, mininterval=0.5,
                   disable=opts.get("verbosity", 1) == 0)  # fmt: skip

        def progress(done: int, total: int) -> None:
            if total and bar.total != total:
                bar.reset(total=total)
            bar.n = done
            bar.refresh()

        try:
            record = services.evaluation_run_inline(project_id, experiment_id, config, progress)
        finally:
            bar.close()
        state = selectors.evaluation_state(project_id, experiment_id)
        aggregate = state.aggregate
        if aggregate is None:  # pragma: no cover - a completed run always has one
            self.stderr.write(f"The evaluation ended {record.status.value}: {record.error}")
            sys.exit(1)
        where = "+".join(config.subsets)
        for line in summary_lines(aggregate, where):
            self.stdout.write(line)


def _num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _class_lines(a: EvaluationAggregate, where: str) -> list[str]:
    o = a.overall
    if o is None:
        return []
    lines = [
        f"Accuracy {o.accuracy:.4f} ({o.correct}/{o.count} images, {where}) with {a.checkpoint}; "
        f"macro F1 {o.macro.f1:.4f}, ECE {o.ece:.4f}"
    ]
    if len(a.subsets) > 1:
        lines += [f"  {k}: accuracy {m.accuracy:.4f} ({m.correct}/{m.count})"
                  for k, m in a.subsets.items()]  # fmt: skip
    return lines


def _anomaly_lines(a: EvaluationAggregate, where: str) -> list[str]:
    m = a.anomaly["all"]
    source = THRESHOLD_SOURCES.get(a.threshold_source, a.threshold_source)
    lines = [
        f"AUROC {_num(m.auroc)} ({m.count} images, {m.anomalous} anomalous, {where}) with "
        f"{a.checkpoint}; average precision {_num(m.average_precision)}",
        f"  threshold {m.threshold:.4f} ({source}): F1 {m.f1:.4f}, precision "
        f"{m.precision:.4f}, recall {m.recall:.4f}",
    ]
    if len(a.anomaly) > 2:  # "all" + more than one subset
        lines += [f"  {k}: AUROC {_num(s.auroc)}, F1 {s.f1:.4f} ({s.count} images)"
                  for k, s in a.anomaly.items() if k != "all"]  # fmt: skip
    return lines


def _regression_lines(a: EvaluationAggregate, where: str) -> list[str]:
    m = a.regression["all"]
    lines = [
        f"MAE {m.mae:.4g} ({m.count} images, {where}) with {a.checkpoint}; RMSE {m.rmse:.4g}, "
        f"MSE {m.mse:.4g}, R² {_num(m.r2)}"
    ]
    if len(m.per_target) > 1:
        lines += [f"  {t.name}: MAE {t.mae:.4g}, RMSE {t.rmse:.4g}, R² {_num(t.r2)}"
                  for t in m.per_target]  # fmt: skip
    if len(a.regression) > 2:
        lines += [f"  {k}: MAE {s.mae:.4g}, RMSE {s.rmse:.4g} ({s.count} images)"
                  for k, s in a.regression.items() if k != "all"]  # fmt: skip
    return lines


# The task's own block speaks first: anomaly detection also carries class metrics (at its
# threshold), which its block already summarises.
_BLOCKS: tuple[tuple[Callable[[EvaluationAggregate], bool], SummaryFn], ...] = (
    (lambda a: "all" in a.anomaly, _anomaly_lines),
    (lambda a: "all" in a.regression, _regression_lines),
    (lambda a: a.overall is not None, _class_lines),
)


def summary_lines(aggregate: EvaluationAggregate, where: str) -> list[str]:
    """The printed summary: the first block the aggregate carries, else its headline."""
    for present, lines in _BLOCKS:
        if present(aggregate):
            return lines(aggregate, where)
    name, value = aggregate.headline
    return [f"{name} {_num(value)} with {aggregate.checkpoint} ({where})"]
