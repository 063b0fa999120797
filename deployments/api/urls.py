"""Shipping-pipeline routes under /api/v1/workspaces/{slug}/projects/{project_id}/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import sync_views, views

app_name = "deployments-api"

PROJECT = "workspaces/<slug:workspace_slug>/projects/<uuid:project_id>/"

router = SimpleRouter(use_regex_path=False)
router.register(PROJECT + "repos", views.RepoViewSet, basename="repo")
router.register(PROJECT + "runs", views.RunViewSet, basename="run")
router.register(PROJECT + "artifacts", views.ArtifactViewSet, basename="artifact")
router.register(PROJECT + "approvals", views.ApprovalViewSet, basename="approval")
router.register(PROJECT + "sandbox-jobs", views.SandboxJobViewSet, basename="sandbox-job")
router.register(PROJECT + "deployments", views.DeploymentViewSet, basename="deployment")
router.register(PROJECT + "previews", views.PreviewViewSet, basename="preview")
router.register(PROJECT + "infra-resources", views.InfraResourceViewSet, basename="infra-resource")
router.register(PROJECT + "agent-runs", sync_views.AgentRunViewSet, basename="agent-run")
router.register(PROJECT + "exports", sync_views.ExportJobViewSet, basename="export")

REPO = PROJECT + "repos/<uuid:pk>/"
sync_routes = [
    path("hooks/git/<uuid:repo_id>/", sync_views.GitHookView.as_view(), name="git-hook"),
    path(
        "exports/download/<str:token>/",
        sync_views.ExportDownloadView.as_view(),
        name="export-download",
    ),
    path(
        REPO + "sync/",
        sync_views.RepoSyncViewSet.as_view({"get": "state", "post": "sync"}),
        name="repo-sync",
    ),
    path(
        REPO + "webhook-secret/",
        sync_views.RepoSyncViewSet.as_view({"post": "rotate_secret"}),
        name="repo-webhook-secret",
    ),
    path(
        PROJECT + "repos/<uuid:repo_id>/deliveries/",
        sync_views.RepoDeliveryViewSet.as_view({"get": "list"}),
        name="repo-delivery-list",
    ),
    path(
        PROJECT + "stats/",
        sync_views.ProjectStatsViewSet.as_view({"get": "stats"}),
        name="project-stats",
    ),
    path(
        PROJECT + "settings/",
        sync_views.ProjectSettingsViewSet.as_view(
            {"get": "retrieve_settings", "patch": "update_settings"}
        ),
        name="project-settings",
    ),
]

urlpatterns = [
    # The export is a file, so it is also served without the trailing slash.
    path(
        PROJECT + "artifacts/export.zip",
        views.ArtifactExportFileView.as_view({"get": "export"}),
        name="artifact-export-file",
    ),
    *sync_routes,
    *router.urls,
]
