"""Account API: tokens, teams, team members, invitations."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.exceptions import Forbidden, NotFound, ValidationFailed

from .. import selectors, services
from ..models import Membership, Role, Team, role_at_least
from . import serializers as s


class MeView(APIView):
    """The signed-in user (session or bearer token)."""

    @extend_schema(responses={200: s.MeOutput})
    def get(self, request):
        return Response(s.MeOutput(request.user).data)


class TokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """`POST` exchanges a username and password for a token, shown once."""

    serializer_class = s.TokenOutput

    def get_permissions(self):
        if self.action == "create":
            return [AllowAny()]
        return super().get_permissions()

    def get_authenticators(self):
        # Signing in takes the credentials in the body: a stale `Authorization` header (a
        # revoked token) must not turn the sign-in into a 401. (`self.action` is not set
        # yet when DRF asks for the authenticators; the method is.)
        if self.request is not None and self.request.method == "POST":
            return []
        return super().get_authenticators()

    def get_queryset(self):
        return selectors.token_list(user=self.request.user)

    @extend_schema(request=s.TokenCreateInput, responses={201: s.TokenCreatedOutput})
    def create(self, request):
        data = s.TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        # The Django request, not DRF's wrapper: django-axes counts the attempt against the
        # account and the address, and its middleware answers 429 once either is locked.
        authed = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if authed is None:
            raise ValidationFailed("Unable to log in with these credentials.", code="invalid_login")
        token, raw = services.token_create(user=authed, name=data.validated_data["name"])
        out = s.TokenOutput(token).data
        out["token"] = raw
        return Response(out, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        token = selectors.token_list(user=request.user).filter(pk=pk).first()
        if token is None:
            raise NotFound("No such token.")
        services.token_revoke(token=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamViewSet(viewsets.GenericViewSet):
    serializer_class = s.TeamOutput

    def get_queryset(self):
        return selectors.team_list_for_user(user=self.request.user)

    def _roles(self, teams) -> dict:
        rows = Membership.objects.filter(user=self.request.user, team__in=teams)
        return dict(rows.values_list("team_id", "role"))

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        ctx = {"roles": self._roles([t.pk for t in page])}
        return self.get_paginated_response(s.TeamOutput(page, many=True, context=ctx).data)

    def retrieve(self, request, pk=None):
        team = self.get_queryset().filter(pk=pk).first()
        if team is None:
            raise NotFound("Team not found.")
        return Response(s.TeamOutput(team, context={"roles": self._roles([team.pk])}).data)

    @extend_schema(request=s.TeamInput, responses={201: s.TeamOutput})
    def create(self, request):
        data = s.TeamInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.team_create(actor=request.user, **data.validated_data)
        out = s.TeamOutput(team, context={"roles": {team.pk: "owner"}}).data
        return Response(out, status=status.HTTP_201_CREATED)


class TeamMemberViewSet(viewsets.GenericViewSet):
    serializer_class = s.MemberOutput

    def _team(self) -> Team:
        return selectors.team_get_for_user(user=self.request.user, team_id=self.kwargs["team_id"])

    def get_queryset(self):
        return selectors.team_members(team=self._team())

    def list(self, request, team_id=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.MemberOutput(page, many=True).data)

    @extend_schema(request=s.MemberInput, responses={201: s.MemberOutput})
    def create(self, request, team_id=None):
        team = self._team()
        data = s.MemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not role_at_least(selectors.team_role(team=team, user=request.user), Role.ADMIN):
            raise Forbidden("Only a team owner or admin can manage members.")
        # Only someone who already shares a team with the caller is added directly; anyone
        # else (and an unknown name: the same answer, so nothing is revealed) is invited.
        user = selectors.user_find_colleague(
            actor=request.user, identifier=data.validated_data["user"]
        )
        if user is None:
            raise ValidationFailed(
                "No one you share a team with has this id, email or handle; "
                "invite them by email instead (POST …/invitations/).",
                field="user",
            )
        membership = services.membership_add(
            team=team, user=user, role=data.validated_data["role"], actor=request.user
        )
        return Response(s.MemberOutput(membership).data, status=status.HTTP_201_CREATED)

    def _membership(self, pk) -> Membership:
        membership = selectors.team_members(team=self._team()).filter(pk=pk).first()
        if membership is None:
            raise NotFound("Member not found.")
        return membership

    @extend_schema(request=s.MemberRoleInput, responses={200: s.MemberOutput})
    def partial_update(self, request, team_id=None, pk=None):
        membership = self._membership(pk)
        data = s.MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            membership=membership, role=data.validated_data["role"], actor=request.user
        )
        return Response(s.MemberOutput(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, team_id=None, pk=None):
        services.membership_remove(membership=self._membership(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamInvitationViewSet(viewsets.GenericViewSet):
    """`/api/v1/teams/{id}/invitations/`: admins and owners invite, list and revoke.

    A stranger to the team gets 404; a member or viewer 403.
    """

    serializer_class = s.InvitationOutput

    def _team(self) -> Team:
        team = selectors.team_get_for_user(user=self.request.user, team_id=self.kwargs["team_id"])
        if not role_at_least(selectors.team_role(user=self.request.user, team=team), Role.ADMIN):
            raise Forbidden("Only a team owner or admin can manage invitations.")
        return team

    def get_queryset(self):
        return selectors.invitation_list(team=self._team())

    def list(self, request, team_id=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.InvitationOutput(page, many=True).data)

    @extend_schema(request=s.InvitationInput, responses={201: s.InvitationOutput})
    def create(self, request, team_id=None):
        team = self._team()
        data = s.InvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _raw = services.invitation_create(
            team=team,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            actor=request.user,
        )
        return Response(s.InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: s.InvitationOutput})
    def destroy(self, request, team_id=None, pk=None):
        """Revoke: the link stops working; the row stays (status `revoked`)."""
        invitation = self.get_queryset().filter(pk=pk).first()
        if invitation is None:
            raise NotFound("Invitation not found.")
        invitation = services.invitation_revoke(invitation=invitation, actor=request.user)
        return Response(s.InvitationOutput(invitation).data)


class InvitationAcceptView(APIView):
    """`POST /api/v1/invitations/accept/ {token}`: the signed-in invitee joins the team."""

    @extend_schema(request=s.InvitationAcceptInput, responses={200: s.InvitationAcceptedOutput})
    def post(self, request):
        data = s.InvitationAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            token=data.validated_data["token"], user=request.user
        )
        return Response(s.InvitationAcceptedOutput(membership).data)
