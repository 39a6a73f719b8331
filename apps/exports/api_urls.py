from django.urls import path

from apps.exports import api

urlpatterns = [
    path("export/<str:project_id>/", api.ExportableView.as_view(), name="api-exportable"),
    path("export/<str:project_id>/<str:experiment_id>", api.ExportListView.as_view(), name="api-exports"),
    path("export/<str:project_id>/<str:experiment_id>/<str:export_id>", api.ExportDetailView.as_view(), name="api-export"),
    path("export/<str:project_id>/<str:experiment_id>/<str:export_id>/download", api.ExportDownloadView.as_view(), name="api-export-download"),
    path("predict/<str:project_id>/<str:experiment_id>", api.PredictView.as_view(), name="api-predict"),
]  # fmt: skip
