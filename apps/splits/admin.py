from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.splits.models import Split, SplitMembership


@admin.register(Split)
class SplitAdmin(ReadOnlyAdmin):
    list_display = ("id", "project_id", "name", "strategy", "image_count", "train_count",
                    "val_count", "test_count", "damaged", "created_at")  # fmt: skip
    list_filter = ("strategy", "damaged")
    search_fields = ("id", "project_id", "name")


@admin.register(SplitMembership)
class SplitMembershipAdmin(ReadOnlyAdmin):
    list_display = ("split", "image_id", "subset")
    list_filter = ("subset",)
    search_fields = ("image_id", "split__id")
