from django.urls import path

from apps.experiments import views

urlpatterns = [
    path("projects/<str:project_id>/training/", views.training_page, name="training-page"),
]
