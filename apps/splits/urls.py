from django.urls import path

from apps.splits import views

urlpatterns = [
    path("projects/<str:project_id>/splits/", views.splits_page, name="splits-page"),
    path(
        "projects/<str:project_id>/splits/<str:split_id>/rename",
        views.split_rename,
        name="split-rename",
    ),
    path(
        "projects/<str:project_id>/splits/<str:split_id>/delete",
        views.split_delete,
        name="split-delete",
    ),
]
