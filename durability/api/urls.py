"""Durability routes under /api/v1/."""

from django.urls import path

from .views import BackupViewSet, RestorePointViewSet

app_name = "durability-api"

WS = "workspaces/<slug:workspace_slug>/"

urlpatterns = [
    path(WS + "backups/", BackupViewSet.as_view({"get": "list"}), name="backups"),
    path(
        WS + "restore-point/", RestorePointViewSet.as_view({"post": "create"}), name="restore-point"
    ),
]
