from django.urls import path

from apps.exports import views

urlpatterns = [
    path("projects/<str:project_id>/export/", views.export_page, name="export-page"),
    path("projects/<str:project_id>/export/list", views.export_list, name="export-list"),
]
