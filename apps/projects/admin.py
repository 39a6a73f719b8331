from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.projects.models import Project


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "task", "damaged", "created_at", "updated_at")
    list_filter = ("task", "damaged")
    search_fields = ("id", "name")
