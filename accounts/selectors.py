"""Account reads."""

import uuid

from django.db.models import Q, QuerySet

from .models import ApiToken, Membership, Team, User


def user_find(*, identifier: str) -> User | None:
    """A user by id, email or handle."""
    identifier = (identifier or "").strip()
    query = Q(email__iexact=identifier) | Q(handle__iexact=identifier.lstrip("@"))
    try:
        query |= Q(pk=uuid.UUID(identifier))
    except ValueError:
        pass
    return User.objects.filter(query).first()


def team_list_for_user(*, user: User) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).distinct().order_by("name")


def team_role(*, user: User, team: Team | None = None, team_id=None) -> str | None:
    """The user's role in the team (given as `team` or `team_id`), or None for a non-member."""
    if user is None or not user.is_authenticated:
        return None
    team_id = team.pk if team is not None else team_id
    return (
        Membership.objects.filter(team_id=team_id, user=user).values_list("role", flat=True).first()
    )


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("user__handle")


def token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
