"""Site routes of the shipping pipeline (mounted at the root by config/urls.py)."""

from django.urls import path

from . import schema_views, sync_pages, views

app_name = "deployments"

W = "w/<slug:slug>/"
P = W + "p/<slug:project_slug>/"

urlpatterns = [
    path("p/<slug:slug>/", views.preview_serve, name="preview"),
    path("schemas/<slug:name>.json", schema_views.schema_file, name="schema"),
    path(W + "approvals/", views.approvals, name="approvals"),
    path(W + "approvals/<uuid:approval_id>/approve/", views.approval_approve, name="approve"),
    path(W + "approvals/<uuid:approval_id>/reject/", views.approval_reject, name="reject"),
    path(P + "runs/", views.run_create, name="run-create"),
    path(P + "previews/", views.preview_create, name="preview-create"),
    path(
        P + "previews/<uuid:preview_id>/versions/",
        views.preview_version_create,
        name="preview-version-create",
    ),
    path(P + "previews/<uuid:preview_id>/rollback/", views.preview_rollback, name="rollback"),
    path(P + "repo-sync/", sync_pages.repo_sync_section, name="repo-sync"),
    path(P + "repo-sync/settings/", sync_pages.repo_settings_submit, name="repo-settings"),
    path(P + "artifacts/<uuid:artifact_id>/", views.artifact_detail, name="artifact"),
    path(
        P + "artifacts/<uuid:artifact_id>/download/",
        views.artifact_download,
        name="artifact-download",
    ),
]
