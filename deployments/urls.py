"""Site routes of the shipping pipeline (mounted at the root by config/urls.py)."""

from django.urls import path

from .views import preview_serve

app_name = "deployments"

urlpatterns = [path("p/<slug:slug>/", preview_serve, name="preview")]
