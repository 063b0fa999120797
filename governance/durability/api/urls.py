"""Durability routes under /api/v1/."""

from django.urls import path

from .views import BackupListView

app_name = "durability-api"

urlpatterns = [path("backups/", BackupListView.as_view(), name="backups")]
