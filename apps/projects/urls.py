from django.urls import path

from apps.projects import views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/new", views.project_create, name="project-create"),
    path("projects/<str:project_id>/", views.project_home, name="project-home"),
    path("projects/<str:project_id>/rename", views.project_rename, name="project-rename"),
    path("projects/<str:project_id>/delete", views.project_delete, name="project-delete"),
    path("projects/<str:project_id>/<str:section>/", views.project_section, name="project-section"),
]
