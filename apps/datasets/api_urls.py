from django.urls import path

from apps.datasets import api

urlpatterns = [
    path("datasets/<str:project_id>/", api.DatasetSummaryView.as_view(), name="api-dataset"),
    path("datasets/<str:project_id>/images", api.ImageListView.as_view(), name="api-dataset-images"),
    path("datasets/<str:project_id>/images/<str:image_id>", api.ImageDetailView.as_view(), name="api-dataset-image"),
    path("datasets/<str:project_id>/images/<str:image_id>/thumbnail", api.ImageThumbnailView.as_view(),
         name="api-dataset-thumbnail"),
    path("datasets/<str:project_id>/images/<str:image_id>/file", api.ImageFileView.as_view(),
         name="api-dataset-file"),
    path("datasets/<str:project_id>/import", api.ImportView.as_view(), name="api-dataset-import"),
    path("datasets/<str:project_id>/imports", api.ImportListView.as_view(), name="api-dataset-imports"),
    path("datasets/<str:project_id>/imports/<str:import_id>", api.ImportDetailView.as_view(),
         name="api-dataset-import-report"),
]  # fmt: skip
