"""Billing routes under /api/v1/."""

from django.urls import path

from .views import KpiViewSet, TeamBillingViewSet, TeamCreditViewSet

app_name = "billing-api"

urlpatterns = [
    path(
        "teams/<uuid:team_id>/billing/",
        TeamBillingViewSet.as_view({"get": "retrieve"}),
        name="team-billing",
    ),
    path(
        "teams/<uuid:team_id>/credits/",
        TeamCreditViewSet.as_view({"get": "list"}),
        name="team-credits",
    ),
    path(
        "workspaces/<slug:workspace_slug>/kpi/",
        KpiViewSet.as_view({"get": "list", "post": "create"}),
        name="kpi",
    ),
    path(
        "workspaces/<slug:workspace_slug>/kpi/priors/",
        KpiViewSet.as_view({"get": "priors"}),
        name="kpi-priors",
    ),
]
