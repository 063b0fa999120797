"""Root URLs: the web UI, the admin, the API and its schema."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.app_list import app_modules
from common.not_found import api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("config.api_urls")),
    *[path("", include(module)) for module in app_modules("urls")],
    # Last: an API path (with its slash, so APPEND_SLASH still redirects) nothing matched.
    re_path(r"^api/[\s\S]+/$", api_not_found),  # [\s\S]: a newline in the path too
]
