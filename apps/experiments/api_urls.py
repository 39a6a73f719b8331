from django.urls import path

from apps.experiments import api, sse

P = "experiments/<str:project_id>/<str:experiment_id>"

urlpatterns = [
    path("experiments/<str:project_id>/", api.ExperimentListView.as_view(), name="api-experiments"),
    # before P: "estimate" is not an experiment id
    path(
        "experiments/<str:project_id>/estimate",
        api.ExperimentEstimateView.as_view(),
        name="api-experiment-estimate",
    ),
    path(P, api.ExperimentDetailView.as_view(), name="api-experiment"),
    path(f"{P}/start", api.ExperimentStartView.as_view(), name="api-experiment-start"),
    path(f"{P}/stop", api.ExperimentStopView.as_view(), name="api-experiment-stop"),
    path(f"{P}/resume", api.ExperimentResumeView.as_view(), name="api-experiment-resume"),
    path(f"{P}/metrics", api.ExperimentMetricsView.as_view(), name="api-experiment-metrics"),
    path(f"{P}/events", sse.experiment_events, name="api-experiment-events"),
]
