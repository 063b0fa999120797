"""Safety and social models (seed 002): identity events, graph edges, moderation, risk profiles.

- IdentityEvent: append-only, immutable in the database; every change of a user's age
  layer, status or verification, with actor and reason.
- Edge: the authoritative social graph (friend / follow / block), one row per
  (from, to, type). Clients never see these rows: they see projections (accounts.graph).
- ModerationAction: the append-only moderation log (immutable in the database).
- RiskProfile: a user's risk level and signals; the signals are encrypted at rest
  (accounts.crypto, AES-GCM with the row id as associated data).

Imported at the bottom of accounts/models.py, so Django sees them as accounts models.
Every write goes through accounts.identity, accounts.graph or accounts.moderation.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import GLOBAL, DataClass, data_class

USER = settings.AUTH_USER_MODEL

__all__ = [
    "Edge",
    "EdgeType",
    "IdentityEvent",
    "IdentityEventKind",
    "ModerationAction",
    "ModerationType",
    "RiskLevel",
    "RiskProfile",
]


class IdentityEventKind(models.TextChoices):
    AGE_LAYER = "age_layer", "Age layer changed"
    STATUS = "status", "Status changed"
    VERIFIED = "verified", "Verified"


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    append_only=True,
    immutable=True,
    reason="Identity events (seed 002 §1): every age-layer, status and verification change, "
    "with actor and reason; permanent (legal accountability).",
)
class IdentityEvent(models.Model):
    """One change of a user's identity attributes. Never updated or deleted (triggers)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="identity_events")
    kind = models.CharField(max_length=16, choices=IdentityEventKind.choices)
    old_value = models.CharField(max_length=64, blank=True)
    new_value = models.CharField(max_length=64, blank=True)
    # No database constraint and no cascade: an immutable row must never be nulled.
    actor = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "identity event"
        indexes = [models.Index(fields=["user", "created_at"], name="identityevent_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="identityevent_reason_required",
                violation_error_message="An identity event needs a reason.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.old_value} → {self.new_value}"


class EdgeType(models.TextChoices):
    FRIEND = "friend", "Friend"
    FOLLOW = "follow", "Follow"
    BLOCK = "block", "Block"


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="The authoritative social graph (seed 002 §3): friend requests, follows and "
    "blocks; projections are rebuilt from these rows.",
)
class Edge(BaseModel):
    """A directed edge. A friendship is two `friend` edges, one each way."""

    from_user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="edges_out")
    to_user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="edges_in")
    type = models.CharField(max_length=16, choices=EdgeType.choices)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "graph edge"
        indexes = [models.Index(fields=["type"], name="edge_type")]
        constraints = [
            models.UniqueConstraint(
                fields=["from_user", "to_user", "type"],
                name="edge_unique_from_to_type",
                violation_error_message="This edge already exists.",
            ),
            models.CheckConstraint(
                condition=Q(type__in=EdgeType.values),
                name="edge_type_valid",
                violation_error_message="Unknown edge type.",
            ),
            models.CheckConstraint(
                condition=~Q(from_user=F("to_user")),
                name="edge_not_to_self",
                violation_error_message="An edge cannot point at its own user.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_user_id} -{self.type}-> {self.to_user_id}"


class ModerationType(models.TextChoices):
    WARN = "warn", "Warn"
    MUTE = "mute", "Mute"
    SUSPEND = "suspend", "Suspend"
    BAN = "ban", "Ban"
    RESTORE = "restore", "Restore"


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    append_only=True,
    immutable=True,
    reason="The moderation log (seed 002 §7): who acted on whom, how and why; append-only, "
    "permanent, each action also an AuditEvent.",
)
class ModerationAction(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="moderation_actions")
    type = models.CharField(max_length=16, choices=ModerationType.choices)
    reason = models.TextField()
    reversible = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "moderation action"
        indexes = [models.Index(fields=["user", "created_at"], name="modaction_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="modaction_reason_required",
                violation_error_message="A moderation action needs a reason.",
            ),
            models.CheckConstraint(
                condition=Q(type__in=ModerationType.values),
                name="modaction_type_valid",
                violation_error_message="Unknown moderation action.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.user_id}"


class RiskLevel(models.TextChoices):
    MONITOR = "monitor", "Monitor"
    GUIDE = "guide", "Guide"
    INTERVENE = "intervene", "Intervene"
    PROTECT = "protect", "Protect"


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    encrypted=True,
    reason="Risk profiles (seed 002 §7): level and signals; signals encrypted at rest "
    "(AES-GCM, keys from RISK_PROFILE_KEYS), moderators only, every read audited.",
)
class RiskProfile(BaseModel):
    """`risk_level` stays plain (the moderation queue sorts by it, seed index); the signals
    are only ever stored as ciphertext bound to this row's id."""

    user = models.OneToOneField(USER, on_delete=models.PROTECT, related_name="risk_profile")
    risk_level = models.CharField(max_length=16, choices=RiskLevel.choices)
    signals_ciphertext = models.TextField(editable=False)
    updated_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # The ciphertext is not copied into history: rotation re-encrypts the live row only,
    # and history must never hold data that outlives a retired key.
    history = HistoricalRecords(excluded_fields=["signals_ciphertext"])

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = "risk profile"
        indexes = [models.Index(fields=["risk_level"], name="riskprofile_level")]
        constraints = [
            models.CheckConstraint(
                condition=Q(risk_level__in=RiskLevel.values),
                name="riskprofile_level_valid",
                violation_error_message="Unknown risk level.",
            )
        ]

    def __str__(self) -> str:
        return f"risk profile of {self.user_id} ({self.risk_level})"
