"""Workspace routes under /api/v1/."""

from django.urls import path

from .audit_views import WorkspaceAuditEventViewSet, WorkspaceHistoryViewSet
from .knowledge_views import ProjectFileViewSet, ProjectSkillViewSet
from .views import ProjectViewSet, WorkspaceDetailViewSet, WorkspaceListViewSet

app_name = "workspaces-api"

WS = "workspaces/<slug:workspace_slug>/"
P = WS + "projects/<uuid:project_id>/"

urlpatterns = [
    path(
        "workspaces/",
        WorkspaceListViewSet.as_view({"get": "list", "post": "create"}),
        name="workspaces",
    ),
    path(
        WS,
        WorkspaceDetailViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="workspace",
    ),
    path(
        WS + "projects/",
        ProjectViewSet.as_view({"get": "list", "post": "create"}),
        name="projects",
    ),
    path(
        WS + "projects/<uuid:pk>/",
        ProjectViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="project",
    ),
    path(
        WS + "history/",
        WorkspaceHistoryViewSet.as_view({"get": "list"}),
        name="workspace-history",
    ),
    path(
        WS + "audit-events/",
        WorkspaceAuditEventViewSet.as_view({"get": "list"}),
        name="workspace-audit-events",
    ),
    path(
        P + "files/",
        ProjectFileViewSet.as_view({"get": "list", "post": "create"}),
        name="project-files",
    ),
    path(
        P + "files/<uuid:pk>/", ProjectFileViewSet.as_view({"get": "retrieve"}), name="project-file"
    ),
    path(
        P + "skills/",
        ProjectSkillViewSet.as_view({"get": "list", "post": "create"}),
        name="project-skills",
    ),
    path(
        P + "skills/<uuid:pk>/",
        ProjectSkillViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="project-skill",
    ),
    path(
        P + "skills/<uuid:pk>/history/",
        ProjectSkillViewSet.as_view({"get": "history"}),
        name="project-skill-history",
    ),
]
