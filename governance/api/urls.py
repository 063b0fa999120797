"""Governance routes under /api/v1/."""

from django.urls import path

from .views import WorkspaceHistoryViewSet

app_name = "governance-api"

urlpatterns = [
    path(
        "workspaces/<slug:workspace_slug>/history/",
        WorkspaceHistoryViewSet.as_view({"get": "list"}),
        name="workspace-history",
    ),
]
