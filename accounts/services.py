"""Account writes: users, teams, memberships, capabilities, API tokens."""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from simple_history.utils import update_change_reason  # noqa: F401  (re-exported for callers)

from common import limits
from common.exceptions import Conflict, Forbidden, NotFound, ValidationFailed

from .models import ApiToken, Capability, Membership, Role, Team, User, UserStatus, role_at_least

TOKEN_PREFIX = "hf_"  # noqa: S105  (a visible prefix, not a secret)


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def user_create(
    *,
    email: str,
    handle: str,
    password: str | None,
    display_name: str = "",
    is_staff=False,
    is_superuser=False,
) -> User:
    email = email.strip().lower()
    handle = handle.strip().lower()
    if User.objects.filter(email=email).exists():
        raise Conflict("A user with this email already exists.", field="email")
    if User.objects.filter(handle=handle).exists():
        raise Conflict("A user with this handle already exists.", field="handle")
    user = User(
        email=email,
        handle=handle,
        display_name=display_name,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user._change_reason = "user created"
    user.save()
    return user


USER_ADMIN_FIELDS = frozenset({"email", "display_name", "is_staff", "is_superuser"})


@transaction.atomic
def user_update(*, user: User, fields: list[str], actor: User | None, reason: str = "") -> User:
    """Save the named fields already set on `user` (the admin's change form), with history.

    Only profile and staff-permission fields; the handle never changes, status goes
    through `user_set_status`, passwords through Django's password forms.
    """
    refused = sorted(set(fields) - USER_ADMIN_FIELDS)
    if refused:
        raise ValidationFailed(f"These user fields are not changed here: {', '.join(refused)}.")
    if not fields:
        return user
    if "email" in fields:
        user.email = user.email.strip().lower()
        if User.objects.filter(email=user.email).exclude(pk=user.pk).exists():
            raise Conflict("A user with this email already exists.", field="email")
    user.full_clean(exclude=["password"])
    user._history_user = actor
    user._change_reason = reason or f"changed {', '.join(sorted(fields))}"
    user.save(update_fields=[*sorted(fields), "updated_at"])
    return user


@transaction.atomic
def user_set_status(*, user: User, status: str, actor: User | None, reason: str = "") -> User:
    user.status = UserStatus(status)
    user._history_user = actor
    user._change_reason = reason or f"status set to {status}"
    user.save(update_fields=["status", "updated_at"])
    return user


@transaction.atomic
def team_create(*, name: str, slug: str, actor: User) -> Team:
    """Create a team; the creator becomes its owner."""
    if Team.objects.filter(slug=slug).exists():
        raise Conflict("A team with this slug already exists.", field="slug")
    team = Team(name=name, slug=slug)
    team.full_clean()
    team._history_user = actor
    team._change_reason = "team created"
    team.save()
    membership = Membership(team=team, user=actor, role=Role.OWNER)
    membership._history_user = actor
    membership._change_reason = "team creator becomes owner"
    membership.save()
    return team


def _check_can_manage_members(*, team: Team, actor: User) -> None:
    from .selectors import team_role

    if not role_at_least(team_role(team=team, user=actor), Role.ADMIN):
        raise Forbidden("Only a team owner or admin can manage members.")


@transaction.atomic
def membership_add(*, team: Team, user: User, role: str, actor: User) -> Membership:
    _check_can_manage_members(team=team, actor=actor)
    if role == Role.OWNER:
        from .selectors import team_role

        if team_role(team=team, user=actor) != Role.OWNER:
            raise Forbidden("Only an owner can add another owner.")
    if Membership.objects.filter(team=team, user=user).exists():
        raise Conflict("This user is already a member of the team.", field="user")
    limits.enforce("seats", team=team)
    membership = Membership(team=team, user=user, role=role)
    membership._history_user = actor
    membership._change_reason = f"member added as {role}"
    membership.save()
    return membership


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    _check_can_manage_members(team=membership.team, actor=actor)
    if membership.role == Role.OWNER and role != Role.OWNER:
        owners = Membership.objects.filter(team=membership.team, role=Role.OWNER).count()
        if owners <= 1:
            raise ValidationFailed("A team must keep at least one owner.", field="role")
    membership._change_reason = f"role changed from {membership.role} to {role}"
    membership.role = role
    membership._history_user = actor
    membership.save(update_fields=["role", "updated_at"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    _check_can_manage_members(team=membership.team, actor=actor)
    if membership.role == Role.OWNER:
        owners = Membership.objects.filter(team=membership.team, role=Role.OWNER).count()
        if owners <= 1:
            raise ValidationFailed("A team must keep at least one owner.")
    membership._history_user = actor
    membership._change_reason = "member removed"
    membership.delete()


@transaction.atomic
def capability_grant(*, user: User, capability: str, actor: User | None) -> Capability:
    cap = Capability.objects.filter(user=user, capability=capability).first()
    if cap is None:
        cap = Capability(user=user, capability=capability)
        cap._history_user = actor
        cap._change_reason = f"capability {capability} granted"
        cap.save()
    return cap


@transaction.atomic
def token_create(*, user: User, name: str = "default") -> tuple[ApiToken, str]:
    """Create a token; returns the row and the plaintext, which is never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name or "default", prefix=raw[:10], key_hash=_hash_token(raw))
    token._history_user = user
    token._change_reason = "token created"
    token.save()
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    if token.user_id != actor.pk:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token._history_user = actor
        token._change_reason = "token revoked"
        token.save(update_fields=["revoked_at", "updated_at"])
    return token


def token_authenticate(raw: str) -> ApiToken | None:
    """The live token for `raw`, or None. Records last use at most once a minute."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        # last_used_at is excluded from history, so a plain UPDATE records everything needed.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
