"""URL map: pages at the root, the REST API under /api/, admin at /admin/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core import views as core_views
from apps.core.api_root import ApiRootView
from apps.core.login_throttle import ThrottledAdminAuthenticationForm, ThrottledLoginView

admin.site.login_form = ThrottledAdminAuthenticationForm

api_patterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("", include("apps.core.api_urls")),
    path("", include("apps.splits.api_urls")),
    path("", include("apps.experiments.api_urls")),
    path("", include("apps.projects.api_urls")),
    path("", include("apps.datasets.api_urls")),
    path("", include("apps.exports.api_urls")),
    path("", include("apps.evaluation.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from static/vendor/swagger-ui (npm), its init script a separate file (CSP)
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", core_views.profile, name="profile"),
    path("password/", core_views.PasswordChange.as_view(), name="password_change"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("api/", include(api_patterns)),
    path("", include("apps.datasets.urls")),
    path("", include("apps.splits.urls")),
    path("", include("apps.experiments.urls")),
    path("", include("apps.exports.urls")),
    path("", include("apps.evaluation.urls")),
    path("", include("apps.projects.urls")),
]

handler400 = "apps.core.errors.handler400"
handler404 = "apps.core.errors.handler404"
handler500 = "apps.core.errors.handler500"
