"""Moderation services (seed 002 §7): the append-only action log and encrypted risk profiles.

Every call here needs the `moderate` capability (403 otherwise). Each moderation action
is one immutable ModerationAction row plus an AuditEvent; suspend, ban and restore change
the user's status through `services.user_set_status` (which appends an IdentityEvent).
Risk-profile signals are stored only as AES-GCM ciphertext (accounts.crypto); every read
of a profile records an AuditEvent naming the reader.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery

from common.exceptions import Forbidden, NotFound, ValidationFailed
from governance.history import save_tracked
from governance.models import AuditAction
from governance.services import audit_record

from . import crypto
from .models import (
    Capability,
    CapabilityName,
    ModerationAction,
    ModerationType,
    RiskLevel,
    RiskProfile,
    User,
    UserStatus,
)
from .selectors import capability_require
from .services import user_set_status

STATUS_FOR = {
    ModerationType.SUSPEND: UserStatus.SUSPENDED,
    ModerationType.BAN: UserStatus.BANNED,
    ModerationType.RESTORE: UserStatus.ACTIVE,
}


def _require_moderator(actor: User) -> None:
    capability_require(user=actor, capability=CapabilityName.MODERATE)


@transaction.atomic
def moderation_action_create(
    *, actor: User, user: User, type: str, reason: str, reversible: bool = True
) -> ModerationAction:
    _require_moderator(actor)
    try:
        type = ModerationType(type)
    except ValueError:
        raise ValidationFailed(
            "Not a moderation action (warn, mute, suspend, ban or restore).", field="type"
        ) from None
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required.", field="reason")
    if user.pk == actor.pk:
        raise Forbidden("Moderators cannot act on themselves.")
    if type == ModerationType.RESTORE:
        last = ModerationAction.objects.filter(user=user).exclude(type=ModerationType.WARN)
        last = last.order_by("-created_at").first()
        if last is not None and not last.reversible:
            raise Forbidden("The last action on this user was recorded as not reversible.")
    action = ModerationAction.objects.create(
        user=user, type=type, reason=reason, reversible=reversible, created_by=actor
    )
    if type in STATUS_FOR and user.status != STATUS_FOR[type]:
        user_set_status(
            user=user, status=STATUS_FOR[type], actor=actor, reason=f"moderation {type}: {reason}"
        )
    audit_record(
        action=AuditAction.MODERATION,
        summary=f"{type} @{user.handle}: {reason}",
        actor=actor,
        target=action,
        data={"user": str(user.pk), "type": type, "reversible": reversible},
    )
    return action


def _last_mute_or_restore():
    return (
        ModerationAction.objects.filter(
            user=OuterRef("pk"), type__in=[ModerationType.MUTE, ModerationType.RESTORE]
        )
        .order_by("-created_at")
        .values("type")[:1]
    )


def user_is_muted(user) -> bool:
    """True when the user's latest mute/restore action is a mute."""
    last = (
        ModerationAction.objects.filter(
            user=user, type__in=[ModerationType.MUTE, ModerationType.RESTORE]
        )
        .order_by("-created_at")
        .values_list("type", flat=True)
        .first()
    )
    return last == ModerationType.MUTE


def check_can_write(user, *, chat: bool) -> None:
    """Refuse (403) a muted user's chat message or comment, and (`chat=True`) a message by
    a user whose `chat` capability an operator revoked. One statement for both reads."""
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            last=Subquery(_last_mute_or_restore()),
            chat_denied=Exists(
                Capability.objects.filter(
                    user=OuterRef("pk"), capability=CapabilityName.CHAT, denied=True
                )
            ),
        )
        .values_list("last", "chat_denied")
        .first()
    )
    last, chat_denied = row or (None, False)
    if last == ModerationType.MUTE:
        raise Forbidden("You are muted by a moderator and cannot post or edit.")
    if chat and chat_denied:
        raise Forbidden(
            "Your chat capability has been revoked by an operator "
            "(chat messages, threads and reactions)."
        )


def moderation_queue(*, actor: User):
    """Users with a risk profile or a moderation action, highest risk first (moderators only)."""
    _require_moderator(actor)
    order = {RiskLevel.PROTECT: 0, RiskLevel.INTERVENE: 1, RiskLevel.GUIDE: 2, RiskLevel.MONITOR: 3}
    profiles = list(RiskProfile.objects.select_related("user"))
    profiles.sort(key=lambda p: (order[RiskLevel(p.risk_level)], -p.updated_at.timestamp()))
    latest = ModerationAction.objects.filter(user=OuterRef("pk")).order_by("-created_at")
    recent = (
        User.objects.filter(moderation_actions__isnull=False)
        .annotate(last_action=Subquery(latest.values("type")[:1]))
        .distinct()
        .order_by("handle")
    )
    actions = ModerationAction.objects.select_related("user").order_by("-created_at")[:50]
    return {"profiles": profiles, "users": list(recent), "actions": list(actions)}


# --- risk profiles ------------------------------------------------------------------------


def _validate_signals(signals) -> list:
    if not isinstance(signals, list) or not all(isinstance(s, str | dict) for s in signals):
        raise ValidationFailed("Signals are a list of strings or objects.", field="signals")
    return signals


@transaction.atomic
def risk_profile_set(
    *, actor: User, user: User, risk_level: str, signals: list, reason: str
) -> RiskProfile:
    _require_moderator(actor)
    if risk_level not in RiskLevel.values:
        raise ValidationFailed("Not a risk level.", field="risk_level")
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required.", field="reason")
    signals = _validate_signals(signals)
    profile = RiskProfile.objects.select_for_update().filter(user=user).first()
    created = profile is None
    if created:
        profile = RiskProfile(user=user)
    profile.risk_level = risk_level
    profile.updated_by = actor
    profile.signals_ciphertext = crypto.encrypt_json(signals, row_id=profile.pk)
    save_tracked(profile, actor=actor, reason=reason)
    audit_record(
        action=AuditAction.MODERATION,
        summary=f"risk profile of @{user.handle} {'created' if created else 'updated'}: "
        f"{risk_level}",
        actor=actor,
        target=profile,
        data={"user": str(user.pk), "risk_level": risk_level, "signals": len(signals)},
    )
    return profile


def risk_profile_read(*, actor: User, user: User, purpose: str = "review") -> dict:
    """The decrypted profile; audited. Raises crypto errors rather than return ciphertext."""
    _require_moderator(actor)
    profile = RiskProfile.objects.filter(user=user).first()
    if profile is None:
        raise NotFound("No risk profile for this user.")
    signals = crypto.decrypt_json(profile.signals_ciphertext, row_id=profile.pk)
    audit_record(
        action=AuditAction.MODERATION,
        summary=f"risk profile of @{user.handle} read ({purpose})"[:500],
        actor=actor,
        target=profile,
        data={"user": str(user.pk), "read": True, "purpose": purpose},
    )
    return {
        "user": str(user.pk),
        "risk_level": profile.risk_level,
        "signals": signals,
        "updated_at": profile.updated_at,
    }


def risk_profiles_rotate(*, batch_size: int = 500, actor: User | None = None) -> dict:
    """Re-encrypt every profile not sealed with the current key, in batches.

    Each batch is one transaction with the rows locked; readers keep working throughout
    because every configured key still decrypts. The ciphertext is excluded from history,
    so a plain UPDATE of that column records everything needed; one AuditEvent at the end.
    """
    rotated = seen = 0
    last_pk = None
    while True:
        with transaction.atomic():
            qs = RiskProfile.objects.order_by("pk")
            if last_pk is not None:
                qs = qs.filter(pk__gt=last_pk)
            batch = list(qs.select_for_update()[:batch_size])
            if not batch:
                break
            for profile in batch:
                seen += 1
                if crypto.needs_rotation(profile.signals_ciphertext):
                    value = crypto.decrypt_json(profile.signals_ciphertext, row_id=profile.pk)
                    token = crypto.encrypt_json(value, row_id=profile.pk)
                    RiskProfile.objects.filter(pk=profile.pk).update(signals_ciphertext=token)
                    rotated += 1
            last_pk = batch[-1].pk
    audit_record(
        action=AuditAction.MODERATION,
        summary=f"risk-profile keys rotated: {rotated} of {seen} re-encrypted",
        actor=actor,
        data={"rotated": rotated, "seen": seen, "key": crypto.keyring()[0].key_id},
    )
    return {"rotated": rotated, "seen": seen}
