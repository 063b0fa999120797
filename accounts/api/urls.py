"""Account routes under /api/v1/."""

from django.urls import path

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
]
