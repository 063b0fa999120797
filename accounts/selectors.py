"""Account reads."""

from django.db.models import Q, QuerySet

from .models import ApiToken, Membership, Team, User


def user_find(*, identifier: str) -> User | None:
    """A user by id, email or handle."""
    identifier = (identifier or "").strip()
    query = Q(email__iexact=identifier) | Q(handle__iexact=identifier.lstrip("@"))
    try:
        import uuid

        query |= Q(pk=uuid.UUID(identifier))
    except ValueError:
        pass
    return User.objects.filter(query).first()


def team_list_for_user(*, user: User) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).distinct().order_by("name")


def team_role(*, team: Team, user: User) -> str | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("user__handle")


def token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
