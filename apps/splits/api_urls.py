from django.urls import path

from apps.splits import api

urlpatterns = [
    path("splits/<str:project_id>/", api.SplitListView.as_view(), name="api-splits"),
    path(
        "splits/<str:project_id>/preview", api.SplitPreviewView.as_view(), name="api-split-preview"
    ),
    path("splits/<str:project_id>/<str:split_id>", api.SplitDetailView.as_view(), name="api-split"),
]
