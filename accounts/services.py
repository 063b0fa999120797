"""Account writes: users, teams, memberships, invitations, capabilities, API tokens."""

import hashlib
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from simple_history.utils import update_change_reason  # noqa: F401  (re-exported for callers)

from common import events, limits
from common.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from governance.history import save_tracked

from .models import (
    ApiToken,
    Capability,
    Invitation,
    InvitationStatus,
    Membership,
    Role,
    Team,
    User,
    UserStatus,
    role_at_least,
)

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
    save_tracked(
        user,
        actor=actor,
        reason=reason or f"changed {', '.join(sorted(fields))}",
        update_fields=[*sorted(fields)],
    )
    return user


@transaction.atomic
def user_set_status(*, user: User, status: str, actor: User | None, reason: str = "") -> User:
    """Set a user's status; the change also appends an IdentityEvent (seed 002 §1)."""
    from .identity import identity_event_append

    old = user.status
    user.status = UserStatus(status)
    reason = reason or f"status set to {status}"
    save_tracked(user, actor=actor, reason=reason, update_fields=["status"])
    if old != user.status:
        identity_event_append(
            user=user, kind="status", old=old, new=user.status, actor=actor, reason=reason
        )
    return user


@transaction.atomic
def team_create(*, name: str, slug: str, actor: User) -> Team:
    """Create a team; the creator becomes its owner."""
    if Team.objects.filter(slug=slug).exists():
        raise Conflict("A team with this slug already exists.", field="slug")
    team = Team(name=name, slug=slug)
    team.full_clean()
    save_tracked(team, actor=actor, reason="team created")
    membership = Membership(team=team, user=actor, role=Role.OWNER)
    save_tracked(membership, actor=actor, reason="team creator becomes owner")
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
    save_tracked(membership, actor=actor, reason=f"member added as {role}")
    return membership


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    _check_can_manage_members(team=membership.team, actor=actor)
    if membership.role == Role.OWNER and role != Role.OWNER:
        owners = Membership.objects.filter(team=membership.team, role=Role.OWNER).count()
        if owners <= 1:
            raise ValidationFailed("A team must keep at least one owner.", field="role")
    reason = f"role changed from {membership.role} to {role}"
    membership.role = role
    save_tracked(membership, actor=actor, reason=reason, update_fields=["role"])
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
def capability_grant(
    *, user: User, capability: str, actor: User | None, reason: str = ""
) -> Capability:
    """Grant a capability (idempotent). From the API and admin only staff grant (checked
    there with `capability_check_granter`); `actor=None` is the system (seed, commands)."""
    from .models import CapabilityName

    if capability not in CapabilityName.values:
        raise ValidationFailed("Not a capability.", field="capability")
    cap = Capability.objects.filter(user=user, capability=capability).first()
    if cap is None:
        cap = Capability(user=user, capability=capability)
        save_tracked(cap, actor=actor, reason=reason or f"capability {capability} granted")
        _audit_moderator_change(user=user, capability=capability, actor=actor, granted=True)
    elif cap.denied:
        # a default capability revoked earlier: lift the denial (history keeps both)
        cap.denied = False
        save_tracked(cap, actor=actor, reason=reason or f"capability {capability} granted again")
    return cap


def _audit_moderator_change(*, user: User, capability: str, actor, granted: bool) -> None:
    """Appointing or removing a moderator is itself a moderation act (AuditEvent)."""
    from governance.models import AuditAction
    from governance.services import audit_record

    from .models import CapabilityName

    if capability != CapabilityName.MODERATE:
        return
    verb = "granted" if granted else "revoked"
    audit_record(
        action=AuditAction.MODERATION,
        summary=f"moderate capability {verb} for @{user.handle}",
        actor=actor,
        data={"user": str(user.pk), "capability": capability, "granted": granted},
    )


@transaction.atomic
def capability_revoke(*, user: User, capability: str, actor: User | None, reason: str = "") -> bool:
    """Revoke a capability. A default capability (deploy, use_ai, chat, create_projects)
    is revoked by a denial row (`denied=True`); a granted one (`moderate`) by deleting its
    row. History keeps every change. False when it was not held."""
    from .models import DEFAULT_CAPABILITIES, CapabilityName

    if capability not in CapabilityName.values:
        return False
    cap = Capability.objects.filter(user=user, capability=capability).first()
    if capability in DEFAULT_CAPABILITIES:
        if cap is not None and cap.denied:
            return False
        cap = cap or Capability(user=user, capability=capability)
        cap.denied = True
        save_tracked(cap, actor=actor, reason=reason or f"capability {capability} revoked")
        return True
    if cap is None:
        return False
    cap._history_user = actor
    cap._change_reason = reason or f"capability {capability} revoked"
    cap.delete()
    _audit_moderator_change(user=user, capability=capability, actor=actor, granted=False)
    return True


def capability_check_granter(*, actor: User) -> None:
    """Only staff grant and revoke capabilities (403 otherwise)."""
    if not (actor.is_authenticated and actor.is_staff and actor.is_active):
        raise Forbidden("Only staff can grant or revoke capabilities.")


@transaction.atomic
def token_create(*, user: User, name: str = "default") -> tuple[ApiToken, str]:
    """Create a token; returns the row and the plaintext, which is never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name or "default", prefix=raw[:10], key_hash=_hash_token(raw))
    save_tracked(token, actor=user, reason="token created")
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    if token.user_id != actor.pk:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        save_tracked(token, actor=actor, reason="token revoked", update_fields=["revoked_at"])
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


# --- invitations (seed 001: collaborators) ----------------------------------------------


def invitation_link(raw_token: str) -> str:
    """The absolute link an invitation email carries."""
    return f"{settings.SITE_URL}/invitations/{raw_token}/"


def _send_invitation_email(*, invitation_id, raw_token: str) -> None:
    invitation = Invitation.objects.select_related("team", "invited_by").get(pk=invitation_id)
    context = {
        "invitation": invitation,
        "link": invitation_link(raw_token),
        "site_url": settings.SITE_URL,
    }
    send_mail(
        subject=f"You are invited to {invitation.team.name} on Holdfast",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,  # DEFAULT_FROM_EMAIL
        recipient_list=[invitation.email],
    )


def _expire(invitation: Invitation, *, actor: User | None) -> Invitation:
    invitation.status = InvitationStatus.EXPIRED
    save_tracked(invitation, actor=actor, reason="invitation expired", update_fields=["status"])
    return invitation


@transaction.atomic
def invitation_create(*, team: Team, email: str, role: str, actor: User) -> tuple[Invitation, str]:
    """Invite `email` to `team` as `role`; returns the row and the raw token (never stored).

    Admins and owners invite; only an owner invites an owner. A second invitation to an
    address that still has a pending one is refused (409): revoke the first to send anew.
    The email (with `/invitations/<token>/`) is sent once the transaction commits.
    """
    _check_can_manage_members(team=team, actor=actor)
    try:
        role = Role(role)
    except ValueError:
        raise ValidationFailed("Not a role.", field="role") from None
    if role == Role.OWNER:
        from .selectors import team_role

        if team_role(team=team, user=actor) != Role.OWNER:
            raise Forbidden("Only an owner can invite another owner.")
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed("Enter a valid email address.", field="email") from None
    if Membership.objects.filter(team=team, user__email__iexact=email).exists():
        raise Conflict("This address already belongs to a member of the team.", field="email")
    pending = Invitation.objects.filter(team=team, email=email, status=InvitationStatus.PENDING)
    for old in pending.select_for_update():
        if old.expires_at > timezone.now():
            raise Conflict(
                "This address already has a pending invitation; revoke it to send a new one.",
                field="email",
            )
        _expire(old, actor=actor)
    raw = secrets.token_urlsafe(32)
    invitation = Invitation(
        team=team,
        email=email,
        role=role,
        token_hash=_hash_token(raw),
        invited_by=actor,
    )
    invitation.full_clean()
    save_tracked(invitation, actor=actor, reason=f"invited {email} as {role}")
    transaction.on_commit(
        lambda: _send_invitation_email(invitation_id=invitation.pk, raw_token=raw)
    )
    return invitation, raw


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> Invitation:
    """Revoke a pending invitation (its link stops working). Revoking twice is a no-op.

    Team admins and owners revoke; so do staff, from the Django admin.
    """
    if not actor.is_staff:
        _check_can_manage_members(team=invitation.team, actor=actor)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status == InvitationStatus.REVOKED:
        return invitation
    if invitation.status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation is {invitation.status}; only a pending one is revoked.")
    invitation.status = InvitationStatus.REVOKED
    save_tracked(invitation, actor=actor, reason="invitation revoked", update_fields=["status"])
    return invitation


class InvitationExpired(ValidationFailed):
    default_code = "invitation_expired"


def invitation_accept(*, token: str, user: User) -> Membership:
    """Join the invitation's team with its role, once; history names `user` as the actor.

    The signed-in user's email must be the invited address. The seat limit is checked
    here (402 when the team is full; the invitation stays pending). An expired invitation
    is marked expired (that change is kept) and refused.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("team")
            .filter(token_hash=_hash_token((token or "").strip()))
            .first()
        )
        if invitation is None:
            raise NotFound("This invitation link is not valid.")
        expired = invitation.status == InvitationStatus.EXPIRED
        now = timezone.now()
        if invitation.status == InvitationStatus.PENDING and invitation.expires_at <= now:
            _expire(invitation, actor=user)
            expired = True
        if not expired:
            return _accept_pending(invitation=invitation, user=user)
    raise InvitationExpired(
        "This invitation has expired; ask a team admin to invite you again.",
        code="invitation_expired",
    )


def _accept_pending(*, invitation: Invitation, user: User) -> Membership:
    if invitation.status == InvitationStatus.ACCEPTED:
        raise Conflict("This invitation has already been used.", code="invitation_used")
    if invitation.status == InvitationStatus.REVOKED:
        raise Conflict("This invitation was revoked.", code="invitation_revoked")
    if user.email.lower() != invitation.email.lower():
        raise Forbidden(
            f"This invitation was sent to {invitation.email}; sign in with that address to "
            "accept it."
        )
    team = invitation.team
    if Membership.objects.filter(team=team, user=user).exists():
        raise Conflict("You are already a member of this team.", code="already_member")
    limits.enforce("seats", team=team)
    membership = Membership(team=team, user=user, role=invitation.role)
    save_tracked(
        membership,
        actor=user,
        reason=f"joined by invitation from {invitation.invited_by} as {invitation.role}",
    )
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_by = user
    invitation.accepted_at = timezone.now()
    save_tracked(
        invitation,
        actor=user,
        reason="invitation accepted",
        update_fields=["status", "accepted_by", "accepted_at"],
    )
    events.emit(
        "invitation.accepted",
        team_id=team.pk,
        data={
            "team": str(team.pk),
            "user": str(user.pk),
            "role": invitation.role,
            "invitation": str(invitation.pk),
        },  # fmt: skip
        summary=f"@{user.handle} joined {team.name} by your invitation",
        actor=user,
        notify=[invitation.invited_by_id],
    )
    return membership


def invitations_expire(*, now=None) -> int:
    """Mark every pending invitation past its expiry as expired (beat, hourly)."""
    now = now or timezone.now()
    count = 0
    due = Invitation.objects.filter(status=InvitationStatus.PENDING, expires_at__lte=now)
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            invitation = Invitation.objects.select_for_update().get(pk=pk)
            if invitation.status == InvitationStatus.PENDING and invitation.expires_at <= now:
                _expire(invitation, actor=None)
                count += 1
    return count


# --- sign-up and housekeeping -------------------------------------------------------------


def login_attempts_prune() -> int:
    """Delete failed sign-in attempts older than the axes cool-off (they lock no one now)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    cutoff = timezone.now() - settings.AXES_COOLOFF_TIME
    removed, _ = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
    old = timezone.now() - timedelta(days=settings.MAIL_RETENTION_DAYS)
    removed += AccessFailureLog.objects.filter(attempt_time__lt=old).delete()[0]
    removed += AccessLog.objects.filter(attempt_time__lt=old).delete()[0]
    return removed


def mail_prune() -> int:
    """Delete outgoing-mail files older than MAIL_RETENTION_DAYS from the mail folder."""
    folder = settings.MAIL_DIR
    if not folder.is_dir():
        return 0
    cutoff = time.time() - settings.MAIL_RETENTION_DAYS * 86400
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
