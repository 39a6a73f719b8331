from django.urls import path

from apps.evaluation import views

urlpatterns = [
    path("projects/<str:project_id>/evaluation/", views.evaluation_page, name="evaluation-page"),
]
