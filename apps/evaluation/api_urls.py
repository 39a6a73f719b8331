from django.urls import path

from apps.evaluation import api

urlpatterns = [
    path("evaluation/<str:project_id>/<str:experiment_id>", api.EvaluationView.as_view(),
         name="api-evaluation"),
    path("evaluation/<str:project_id>/<str:experiment_id>/checkpoints",
         api.CheckpointListView.as_view(), name="api-evaluation-checkpoints"),
    path("evaluation/<str:project_id>/<str:experiment_id>/results", api.ResultListView.as_view(),
         name="api-evaluation-results"),
    path("evaluation/<str:project_id>/<str:experiment_id>/results.csv",
         api.ResultCsvView.as_view(), name="api-evaluation-results-csv"),
]  # fmt: skip
