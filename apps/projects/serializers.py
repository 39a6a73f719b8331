from typing import Any

from rest_framework import serializers

from apps.projects.models import Project
from studio.ml.tasks.registry import TaskType


class ProjectSerializer(serializers.ModelSerializer[Project]):
    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "task",
            "description",
            "created_at",
            "updated_at",
            "damaged",
            "damage_reason",
        ]


class ProjectCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    task = serializers.ChoiceField(choices=[t.value for t in TaskType])
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )


class ProjectUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "task" in self.initial_data:
            raise serializers.ValidationError(
                {"task": ["The task of a project cannot be changed."]}
            )
        if not attrs:
            raise serializers.ValidationError({"name": ["Give a name or a description to change."]})
        return attrs


class MemberSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=["viewer", "editor", "owner"])


class MemberRoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=["viewer", "editor", "owner"])
