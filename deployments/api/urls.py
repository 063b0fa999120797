"""Shipping-pipeline routes under /api/v1/workspaces/{slug}/projects/{project_id}/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

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

urlpatterns = [
    # The export is a file, so it is also served without the trailing slash.
    path(
        PROJECT + "artifacts/export.zip",
        views.ArtifactExportFileView.as_view({"get": "export"}),
        name="artifact-export-file",
    ),
    *router.urls,
]
