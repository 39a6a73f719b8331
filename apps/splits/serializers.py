"""Request shapes (type checks only: the split rules live in ``studio.splits``) and the
response shapes, documented for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.splits.models import Split
from studio.splits import manager
from studio.splits.manager import SplitStatus
from studio.splits.planner import SplitPlan
from studio.splits.schemas import SplitFile, SplitRatios


class RatiosSerializer(serializers.Serializer[Any]):
    train = serializers.FloatField()
    val = serializers.FloatField()
    test = serializers.FloatField()


class SplitRequestSerializer(serializers.Serializer[Any]):
    """``ratios`` default to 0.8/0.1/0.1 and ``seed`` to 0; ``name`` defaults to "Split <n>"."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=manager.NAME_MAX)
    ratios = RatiosSerializer(required=False)
    seed = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=manager.SEED_MAX
    )

    def ratios_model(self) -> SplitRatios:
        raw = self.validated_data.get("ratios")
        return SplitRatios(**raw) if raw else SplitRatios()


class SplitRenameSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=manager.NAME_MAX)


class SizesSerializer(serializers.Serializer[Any]):
    train = serializers.IntegerField()
    val = serializers.IntegerField()
    test = serializers.IntegerField()


class GroupCountsSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(
        help_text='Class id, "bin:NN", "unlabelled", "no_objects" or "labelled"'
    )
    name = serializers.CharField()
    total = serializers.IntegerField()
    train = serializers.IntegerField()
    val = serializers.IntegerField()
    test = serializers.IntegerField()


class WarningSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    group = serializers.CharField(allow_null=True)


class PreviewSerializer(serializers.Serializer[Any]):
    strategy = serializers.CharField()
    image_count = serializers.IntegerField()
    ratios = RatiosSerializer()
    seed = serializers.IntegerField()
    sizes = SizesSerializer()
    counts = GroupCountsSerializer(many=True)
    warnings = WarningSerializer(many=True)


class SplitSummarySerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    project_id = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    task = serializers.CharField()
    strategy = serializers.CharField()
    ratios = RatiosSerializer()
    seed = serializers.IntegerField()
    image_count = serializers.IntegerField()
    sizes = SizesSerializer()
    locked = serializers.BooleanField(help_text="Always true: assignments never change")
    damaged = serializers.BooleanField()
    damage_reason = serializers.CharField(allow_blank=True)


class ExperimentRefSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()


class SplitDetailSerializer(SplitSummarySerializer):
    counts = GroupCountsSerializer(many=True)
    warnings = WarningSerializer(many=True)
    unassigned = serializers.IntegerField(
        help_text="Dataset images not in this split (imported after it)"
    )
    missing = serializers.IntegerField(help_text="Images of the split no longer in the dataset")
    used_by = ExperimentRefSerializer(many=True)
    assignments = serializers.DictField(
        child=serializers.ChoiceField(choices=["train", "val", "test"]), required=False,
        help_text="image id -> subset; only with ?include=assignments",
    )  # fmt: skip


def preview_payload(plan: SplitPlan, ratios: SplitRatios, seed: int) -> dict[str, Any]:
    return {
        "strategy": plan.strategy, "image_count": plan.image_count, "ratios": ratios.model_dump(),
        "seed": seed, "sizes": plan.sizes.model_dump(),
        "counts": [c.model_dump() for c in plan.counts],
        "warnings": [w.model_dump() for w in plan.warnings],
    }  # fmt: skip


def summary_payload(row: Split) -> dict[str, Any]:
    return {
        "id": row.id, "project_id": row.project_id, "name": row.name, "created_at": row.created_at,
        "task": row.task, "strategy": row.strategy,
        "ratios": {"train": row.ratio_train, "val": row.ratio_val, "test": row.ratio_test},
        "seed": row.seed, "image_count": row.image_count,
        "sizes": {"train": row.train_count, "val": row.val_count, "test": row.test_count},
        "locked": True, "damaged": row.damaged, "damage_reason": row.damage_reason,
    }  # fmt: skip


def detail_payload(
    split: SplitFile, status: SplitStatus, assignments: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": split.id, "project_id": split.project_id, "name": split.name,
        "created_at": split.created_at, "task": split.task, "strategy": split.strategy,
        "ratios": split.ratios.model_dump(), "seed": split.seed, "image_count": split.image_count,
        "sizes": split.sizes.model_dump(), "locked": True, "damaged": False, "damage_reason": "",
        "counts": [c.model_dump() for c in split.counts],
        "warnings": [w.model_dump() for w in split.warnings],
        "unassigned": status.unassigned, "missing": status.missing,
        "used_by": [{"id": u.id, "name": u.name} for u in status.used_by],
    }  # fmt: skip
    if assignments:
        data["assignments"] = split.assignments
    return data
