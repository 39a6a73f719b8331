from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin import ReadOnlyAdmin
from apps.projects.models import Project, ProjectMember


class MemberInline(admin.TabularInline):  # type: ignore[type-arg]
    """Members and roles, read-only like the rest of the mirror (``manage.py add_member``)."""

    model = ProjectMember
    fields = ("username", "role")
    readonly_fields = ("username", "role")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "task", "damaged", "created_at", "updated_at")
    list_filter = ("task", "damaged")
    search_fields = ("id", "name", "members__username")
    inlines = [MemberInline]
