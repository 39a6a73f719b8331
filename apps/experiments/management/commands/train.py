"""``manage.py train <project_id> --split <split_id> [--model … --epochs … …]``.

Trains one new experiment in this process (no worker, no Redis), for headless servers: a
tqdm progress bar on a terminal, one line per epoch. The experiment is an ordinary one
(``projects/<pid>/experiments/<id>/``): it shows on the Training page, and a run stopped with
Ctrl-C can be resumed there or through the API. Any problem is one sentence and exit 1;
Ctrl-C stops after the current batch (last.ckpt saved) and exits 130.
"""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from apps.core.commands import StudioCommand
from apps.experiments import services
from studio.errors import StudioError


def _sentence(exc: StudioError) -> str:
    """The message plus what is wrong with each field (the CLI has no form to show it in)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    fields = [
        f"{field}: {' '.join(str(m) for m in messages)}"
        for field, messages in details.items()
        if isinstance(messages, list) and messages
    ]
    if fields and not exc.message.endswith(tuple(fields)):
        return f"{exc.message.rstrip('.')} — " + "; ".join(fields)
    return exc.message


class TerminalHooks:
    """Progress on a terminal: a bar while preparing, a bar while training, a line per epoch."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.bar: tqdm[Any] | None = None
        self.bar_name = ""
        self.stop = False

    def _bar(self, desc: str, total: int) -> tqdm[Any]:
        if self.bar is None or self.bar_name != desc:
            self.close()
            self.bar_name = desc
            self.bar = tqdm(total=total, desc=desc, unit="batch", dynamic_ncols=True,
                            disable=None, file=sys.stderr)  # fmt: skip
        self.bar.total = total
        return self.bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def event(self, type_: str, data: dict[str, Any]) -> None:
        if type_ == "preparing" and data.get("stage") == "cache":
            bar = self._bar("Preparing images", int(data["total"]))
            bar.unit = "img"
            bar.n = int(data["done"])
            bar.refresh()
        elif type_ == "training_started":
            self.close()
            counts = f"{data.get('train', 0)} train / {data.get('val', 0)} val images"
            where = f"from epoch {data['start_epoch']}" if data.get("resumed") else ""
            tqdm.write(
                f"Training {data.get('model')} on {counts}, {data.get('epochs')} epochs "
                f"{where} on {data.get('device')}".replace("  ", " "),
                file=self.out,
            )
        elif type_ == "epoch_end":
            row = data.get("metrics") or {}
            shown = "  ".join(
                f"{k} {v:.4g}" for k, v in row.items()
                if k not in ("epoch", "lr") and isinstance(v, int | float)
            )  # fmt: skip
            tqdm.write(f"epoch {data['epoch']}/{data.get('epochs')}  {shown}", file=self.out)
        elif type_ in ("finished", "stopped"):
            self.close()

    def progress(self, done: int, total: int, message: str, data: dict[str, Any]) -> None:
        bar = self._bar("Training", total)
        bar.n = done
        bar.set_postfix(
            epoch=data.get("epoch"), loss=f"{data.get('loss') or 0:.3f}",
            img_s=data.get("images_per_s"), refresh=False,
        )  # fmt: skip
        bar.refresh()

    def cancel_requested(self) -> bool:
        return self.stop


class Command(StudioCommand):
    help = "Train a new experiment of a project in this process, with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")
        parser.add_argument("--split", required=True, help="id of a saved split of the project")
        parser.add_argument("--model", help="catalog key, e.g. resnet18 (default: the task's)")
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--lr", type=float)
        parser.add_argument("--image-size", type=int)
        parser.add_argument("--pretrained", action="store_true", help="start from ImageNet weights")
        parser.add_argument("--seed", type=int)
        parser.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE",
            help="any other setting, e.g. --set optimizer=sgd --set augment.rotation=15",
        )  # fmt: skip
        parser.add_argument("--name", help="experiment name (default: Experiment <n>)")

    def _config(self, opts: dict[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for key in ("model", "epochs", "batch_size", "lr", "image_size", "seed"):
            if opts.get(key) is not None:
                config[key] = opts[key]
        if opts.get("pretrained"):
            config["pretrained"] = True
        for item in opts["set"]:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--set needs KEY=VALUE, got {item!r}")
            try:
                value: Any = json.loads(raw)
            except ValueError:
                value = raw
            target = config
            *parents, leaf = key.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value
        return config

    def handle(self, *args: Any, **opts: Any) -> None:
        hooks = TerminalHooks(self.stdout)
        previous = signal.getsignal(signal.SIGINT)

        def on_interrupt(signum: int, frame: FrameType | None) -> None:
            if hooks.stop:  # a second Ctrl-C: give up at once
                signal.signal(signal.SIGINT, previous)
                raise KeyboardInterrupt
            hooks.stop = True
            tqdm.write(
                "Stopping after the current batch (Ctrl-C again to abort) …", file=self.stdout
            )

        try:
            exp = services.experiment_create(
                opts["project_id"], opts["split"], self._config(opts), opts.get("name")
            )
            self.stdout.write(f"Experiment {exp.name!r} ({exp.id}) created.")
            signal.signal(signal.SIGINT, on_interrupt)
            outcome = services.experiment_run_local(exp.project_id, exp.id, hooks)
        except StudioError as exc:
            raise CommandError(_sentence(exc)) from exc
        finally:
            hooks.close()
            signal.signal(signal.SIGINT, previous)
        result = outcome.result
        if outcome.status == "stopped":
            raise CommandError(
                f"{outcome.message}. Experiment {exp.id} stopped after {result.get('epochs_done', 0)} "
                "epoch(s); resume it from the Training page or POST …/resume.",
                returncode=130,
            )
        if outcome.status != "completed":
            raise CommandError(outcome.message)
        best = result.get("best_metric") or {}
        best_text = (
            f"; best {best['name']} {best['value']:.4f} at epoch {best['epoch']}" if best else ""
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Completed {result.get('epochs_done')} epoch(s){best_text}. Checkpoints in "
                f"projects/{exp.project_id}/experiments/{exp.id}/checkpoints/."
            )
        )
