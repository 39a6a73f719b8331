from django.urls import path

from apps.core import api, sse

urlpatterns = [
    path("jobs/", api.JobListView.as_view(), name="api-jobs"),
    path("jobs/<str:job_id>/", api.JobDetailView.as_view(), name="api-job"),
    path("jobs/<str:job_id>/cancel", api.JobCancelView.as_view(), name="api-job-cancel"),
    path("jobs/<str:job_id>/events", sse.job_events, name="api-job-events"),
    path("tasks/", api.TaskListView.as_view(), name="api-tasks"),
]
