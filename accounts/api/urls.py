"""Account routes under /api/v1/."""

from django.urls import path

from . import safety
from .views import (
    InvitationAcceptView,
    MeView,
    TeamInvitationViewSet,
    TeamMemberViewSet,
    TeamViewSet,
    TokenViewSet,
)

app_name = "accounts-api"

urlpatterns = [
    path("auth/me/", MeView.as_view(), name="me"),
    path("auth/tokens/", TokenViewSet.as_view({"get": "list", "post": "create"}), name="tokens"),
    path("auth/tokens/<uuid:pk>/", TokenViewSet.as_view({"delete": "destroy"}), name="token"),
    path("teams/", TeamViewSet.as_view({"get": "list", "post": "create"}), name="teams"),
    path("teams/<uuid:pk>/", TeamViewSet.as_view({"get": "retrieve"}), name="team"),
    path(
        "teams/<uuid:team_id>/members/",
        TeamMemberViewSet.as_view({"get": "list", "post": "create"}),
        name="team-members",
    ),
    path(
        "teams/<uuid:team_id>/members/<uuid:pk>/",
        TeamMemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"}),
        name="team-member",
    ),
    path(
        "teams/<uuid:team_id>/invitations/",
        TeamInvitationViewSet.as_view({"get": "list", "post": "create"}),
        name="team-invitations",
    ),
    path(
        "teams/<uuid:team_id>/invitations/<uuid:pk>/",
        TeamInvitationViewSet.as_view({"delete": "destroy"}),
        name="team-invitation",
    ),
    path("invitations/accept/", InvitationAcceptView.as_view(), name="invitation-accept"),
    # safety and social (seed 002): not workspace routes
    path("me/edges/", safety.EdgeCreateView.as_view(), name="me-edges"),
    path("me/edges/<str:type>/<uuid:user_id>/", safety.EdgeDeleteView.as_view(), name="me-edge"),
    path("me/graph/", safety.GraphView.as_view(), name="me-graph"),
    path("me/capabilities/", safety.MyCapabilitiesView.as_view(), name="me-capabilities"),
    path("capabilities/", safety.CapabilityGrantView.as_view(), name="capabilities"),
    path(
        "capabilities/<uuid:user_id>/<str:capability>/",
        safety.CapabilityRevokeView.as_view(),
        name="capability",
    ),
    path("moderation/actions/", safety.ModerationActionView.as_view(), name="moderation-actions"),
    path(
        "moderation/risk-profiles/<uuid:user_id>/",
        safety.RiskProfileView.as_view(),
        name="risk-profile",
    ),
    path("moderation/age-layer/", safety.AgeLayerView.as_view(), name="age-layer"),
]
