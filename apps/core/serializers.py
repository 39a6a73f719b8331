"""API representations of core resources."""

from typing import Any

from rest_framework import serializers

from studio.storage.schemas import JobFile


class JobSerializer(serializers.Serializer[JobFile]):
    id = serializers.CharField()
    kind = serializers.CharField()
    project_id = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    progress = serializers.DictField()
    message = serializers.CharField()
    error = serializers.CharField()
    result = serializers.DictField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    events_url = serializers.CharField(help_text="SSE stream of this job's events")

    def to_representation(self, instance: Any) -> Any:
        if isinstance(instance, JobFile):
            data = instance.model_dump(mode="json")
        else:  # a mirror row
            data = {
                "id": instance.id,
                "kind": instance.kind,
                "project_id": instance.project_id or None,
                "status": instance.status,
                "progress": {"done": instance.progress_done, "total": instance.progress_total},
                "message": instance.message,
                "error": instance.error,
                "result": {},
                "created_at": instance.created_at.isoformat(),
                "started_at": instance.started_at.isoformat() if instance.started_at else None,
                "finished_at": instance.finished_at.isoformat() if instance.finished_at else None,
                "updated_at": instance.updated_at.isoformat(),
            }
        keys = [f for f in self.fields if f != "events_url"]
        out = {k: data.get(k) for k in keys}
        out["events_url"] = f"/api/jobs/{data['id']}/events"
        return out


class TaskSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    available = serializers.BooleanField()
