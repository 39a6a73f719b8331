from django.urls import path

from apps.datasets import views

urlpatterns = [
    path("projects/<str:project_id>/dataset/", views.dataset_page, name="dataset-page"),
    path("projects/<str:project_id>/dataset/imports/<str:import_id>", views.import_report,
         name="dataset-import-report"),
]  # fmt: skip
