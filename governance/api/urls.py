"""Governance routes under /api/v1/."""

from django.urls import path

from .views import WorkspaceAuditEventViewSet, WorkspaceHistoryViewSet

app_name = "governance-api"

urlpatterns = [
    path(
        "workspaces/<slug:workspace_slug>/history/",
        WorkspaceHistoryViewSet.as_view({"get": "list"}),
        name="workspace-history",
    ),
    path(
        "workspaces/<slug:workspace_slug>/audit-events/",
        WorkspaceAuditEventViewSet.as_view({"get": "list"}),
        name="workspace-audit-events",
    ),
]
