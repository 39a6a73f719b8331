"""``manage.py evaluate <project_id> <experiment_id>``: evaluate in this process, no worker."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandParser

from apps.core.commands import StudioCommand
from apps.evaluation import selectors, services
from studio.ml import evaluate as core


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
        o = aggregate.overall
        self.stdout.write(
            f"Accuracy {o.accuracy:.4f} ({o.correct}/{o.count} images, "
            f"{'+'.join(config.subsets)}) with {aggregate.checkpoint}; "
            f"macro F1 {o.macro.f1:.4f}, ECE {o.ece:.4f}"
        )
        if len(aggregate.subsets) > 1:
            for name, m in aggregate.subsets.items():
                self.stdout.write(f"  {name}: accuracy {m.accuracy:.4f} ({m.correct}/{m.count})")
