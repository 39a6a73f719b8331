"""URL map: pages at the root, the REST API under /api/, admin at /admin/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views

api_patterns = [
    path("", include("apps.core.api_urls")),
    path("", include("apps.splits.api_urls")),
    path("", include("apps.experiments.api_urls")),
    path("", include("apps.projects.api_urls")),
    path("", include("apps.datasets.api_urls")),
    path("", include("apps.exports.api_urls")),
    path("", include("apps.evaluation.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", core_views.profile, name="profile"),
    path("api/", include(api_patterns)),
    path("", include("apps.datasets.urls")),
    path("", include("apps.splits.urls")),
    path("", include("apps.experiments.urls")),
    path("", include("apps.exports.urls")),
    path("", include("apps.evaluation.urls")),
    path("", include("apps.projects.urls")),
]

handler404 = "apps.core.errors.handler404"
handler500 = "apps.core.errors.handler500"
