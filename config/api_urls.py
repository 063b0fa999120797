"""/api/v1/: every app's `api/urls.py` is mounted here, in LOCAL_APPS order.

Each app owns its routes, written relative to /api/v1/ (tenant routes start
with `workspaces/<slug:workspace_slug>/`), so adding an app never means
editing this file.
"""

from django.urls import include, path

from common.app_list import app_modules

urlpatterns = [path("", include(module)) for module in app_modules("api.urls")]
