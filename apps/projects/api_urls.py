from django.urls import path

from apps.projects import api

urlpatterns = [
    path("projects/", api.ProjectListView.as_view(), name="api-projects"),
    path("projects/<str:project_id>/", api.ProjectDetailView.as_view(), name="api-project"),
    path(
        "projects/<str:project_id>/members",
        api.MemberListView.as_view(),
        name="api-project-members",
    ),
    path(
        "projects/<str:project_id>/members/<str:username>",
        api.MemberDetailView.as_view(),
        name="api-project-member",
    ),
]
