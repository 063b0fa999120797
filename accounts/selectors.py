"""Account reads."""

import hashlib
import uuid

from django.db.models import Q, QuerySet

from common.exceptions import NotFound

from .models import ApiToken, Invitation, Membership, Team, User


def user_find(*, identifier: str) -> User | None:
    """A user by id, email or handle."""
    identifier = (identifier or "").strip()
    query = Q(email__iexact=identifier) | Q(handle__iexact=identifier.lstrip("@"))
    try:
        query |= Q(pk=uuid.UUID(identifier))
    except ValueError:
        pass
    return User.objects.filter(query).first()


def user_find_colleague(*, actor: User, identifier: str) -> User | None:
    """A user by id, email or handle, only if they already share a team with `actor`."""
    user = user_find(identifier=identifier)
    if user is None or user.pk == actor.pk:
        return user
    shared = Membership.objects.filter(user=user, team__memberships__user=actor).exists()
    return user if shared else None


def team_list_for_user(*, user: User) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).distinct().order_by("name")


def team_get_for_user(*, user: User, team_id) -> Team:
    """The team `team_id` if `user` belongs to it; 404 for both missing and not a member."""
    team = team_list_for_user(user=user).filter(pk=team_id).first()
    if team is None:
        raise NotFound("Team not found.")
    return team


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


def user_for_login(*, identifier: str) -> User | None:
    """The user an email address or a handle names (sign-in accepts either, never an id)."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    if "@" in identifier.lstrip("@"):
        return User.objects.filter(email__iexact=identifier).first()
    return User.objects.filter(handle__iexact=identifier.lstrip("@")).first()


def invitation_list(*, team: Team) -> QuerySet[Invitation]:
    """A team's invitations, newest first, with the people they name."""
    return (
        Invitation.objects.filter(team=team)
        .select_related("team", "invited_by", "accepted_by")
        .order_by("-created_at", "-id")
    )


def invitation_for_token(*, token: str) -> Invitation | None:
    """The invitation a raw token opens (looked up by its sha256), or None."""
    digest = hashlib.sha256((token or "").strip().encode()).hexdigest()
    return Invitation.objects.select_related("team", "invited_by").filter(token_hash=digest).first()


# --- capabilities (seed 002 §1: permissions) ---------------------------------------------


def capability_has(*, user, capability: str) -> bool:
    """True when an active user holds the capability. A default capability
    (`DEFAULT_CAPABILITIES`: deploy, use_ai, chat, create_projects) is held unless an
    operator revoked it for this user (a denial row); any other (`moderate`) only with an
    explicit grant row (no implicit superuser bypass, so every holder is on record)."""
    from .models import DEFAULT_CAPABILITIES, Capability

    if user is None or not user.is_authenticated or not user.is_active:
        return False
    rows = Capability.objects.filter(user=user, capability=capability)
    if capability in DEFAULT_CAPABILITIES:
        return not rows.filter(denied=True).exists()
    return rows.filter(denied=False).exists()


def capability_require(*, user, capability: str, what: str = "") -> None:
    """Raise Forbidden (403) unless the user holds the capability."""
    from common.exceptions import Forbidden

    from .models import DEFAULT_CAPABILITIES

    if not capability_has(user=user, capability=capability):
        if capability in DEFAULT_CAPABILITIES:
            doing = f" ({what})" if what else ""
            raise Forbidden(f"Your {capability} capability has been revoked by an operator{doing}.")
        raise Forbidden(f"This needs the {capability} capability.")


def capability_list(*, user):
    from .models import Capability

    return Capability.objects.filter(user=user).order_by("capability")
