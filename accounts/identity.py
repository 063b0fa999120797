"""Identity services (seed 002 §1): age layer, verification, and the identity event log.

Identity fields (`id`, `handle`, `created_at`) never change after creation; the database
refuses it too (migration 0006's trigger on accounts_user). Age layer, status and
verification change only here (status through `services.user_set_status`), and every
change appends an immutable IdentityEvent with actor and reason.
"""

from django.db import transaction
from django.utils import timezone

from common.exceptions import ValidationFailed
from governance.history import save_tracked

from .models import AgeLayer, IdentityEvent, IdentityEventKind, User

IDENTITY_FIELDS = ("id", "handle", "created_at")


def identity_event_append(
    *, user: User, kind: str, old: str, new: str, actor: User | None, reason: str
) -> IdentityEvent:
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required.", field="reason")
    return IdentityEvent.objects.create(
        user=user,
        kind=IdentityEventKind(kind),
        old_value=str(old or "")[:64],
        new_value=str(new or "")[:64],
        actor=actor if actor is not None and actor.is_authenticated else None,
        reason=reason.strip()[:500],
    )


@transaction.atomic
def user_set_age_layer(*, user: User, age_layer: str, actor: User | None, reason: str) -> User:
    """Move a user to another age layer (minor / transitional / adult), with an event."""
    try:
        layer = AgeLayer(age_layer)
    except ValueError:
        raise ValidationFailed("Not an age layer.", field="age_layer") from None
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required.", field="reason")
    user = User.objects.select_for_update().get(pk=user.pk)
    old = user.age_layer
    if old == layer:
        return user
    user.age_layer = layer
    save_tracked(user, actor=actor, reason=reason, update_fields=["age_layer"])
    identity_event_append(
        user=user, kind=IdentityEventKind.AGE_LAYER, old=old, new=layer, actor=actor, reason=reason
    )
    return user


@transaction.atomic
def user_mark_verified(*, user: User, actor: User | None, reason: str) -> User:
    """Record that the user's age or identity was verified (once; `verified_at` is set)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.verified_at is not None:
        return user
    user.verified_at = timezone.now()
    save_tracked(user, actor=actor, reason=reason, update_fields=["verified_at"])
    identity_event_append(
        user=user,
        kind=IdentityEventKind.VERIFIED,
        old="",
        new=user.verified_at.isoformat(),
        actor=actor,
        reason=reason,
    )
    return user
