"""Billing models: plans, entitlements, the AI-credit ledger, AI usage, daily KPI aggregates.

Plans and entitlements are critical and history-tracked. Credit entries and AI usage
rows are critical, append-only and immutable (database triggers); the balance is the
sum of a team's entries and is never stored on its own. KPI events live in append-only
JSONL files under `.cache/kpi/` (semi-critical, see `billing.stores`); their daily
aggregates are a semi-critical table recomputed from those files.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import GLOBAL, DataClass, data_class

USER = settings.AUTH_USER_MODEL


class LimitName(models.TextChoices):
    SEATS = "seats", "Seats (team members)"
    WORKSPACES = "workspaces", "Workspaces"
    PROJECTS_PER_WORKSPACE = "projects_per_workspace", "Projects per workspace"
    MONTHLY_AI_CREDITS = "monthly_ai_credits", "AI credits granted each month"
    DEPLOYS_PER_DAY = "deploys_per_day", "Deployments per day (UTC)"
    STORAGE_BYTES = "storage_bytes", "Artifact storage (bytes)"


LIMIT_NAMES: tuple[str, ...] = tuple(LimitName.values)

# The plans the data migration seeds, and the fallback when the database has none
# (a flushed test database, a half-restored instance): a team is never left without limits.
DEFAULT_PLAN_CODE = "free"
DEFAULT_PLANS: dict[str, dict] = {
    "free": {
        "name": "Free",
        "is_default": True,
        "seats": 10,
        "workspaces": 5,
        "projects_per_workspace": 25,
        "monthly_ai_credits": 1_000,
        "deploys_per_day": 50,
        "storage_bytes": 1 * 1024**3,
    },
    "team": {
        "name": "Team",
        "is_default": False,
        "seats": 50,
        "workspaces": 25,
        "projects_per_workspace": 200,
        "monthly_ai_credits": 20_000,
        "deploys_per_day": 500,
        "storage_bytes": 100 * 1024**3,
    },
    "enterprise": {
        "name": "Enterprise",
        "is_default": False,
        "seats": None,
        "workspaces": None,
        "projects_per_workspace": None,
        "monthly_ai_credits": 250_000,
        "deploys_per_day": None,
        "storage_bytes": None,
    },
}


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="Plan definitions decide what every team may do and what it is billed for.",
)
class Plan(BaseModel):
    """A named set of limits. A null limit means unlimited."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=80)
    is_default = models.BooleanField(
        default=False, help_text="Teams without a current entitlement get this plan."
    )
    seats = models.PositiveIntegerField(null=True, blank=True)
    workspaces = models.PositiveIntegerField(null=True, blank=True)
    projects_per_workspace = models.PositiveIntegerField(null=True, blank=True)
    monthly_ai_credits = models.PositiveIntegerField(null=True, blank=True)
    deploys_per_day = models.PositiveIntegerField(null=True, blank=True)
    storage_bytes = models.PositiveBigIntegerField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = "plan"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="plan_one_default",
                violation_error_message="Only one plan can be the default.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def limits(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in LIMIT_NAMES}


class EntitlementSource(models.TextChoices):
    MANUAL = "manual", "Granted by ops"
    EXTERNAL = "external", "From the billing provider"


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="Which plan a team has paid for, with per-limit overrides; billing depends on it.",
)
class Entitlement(BaseModel):
    """A team's plan over a period. The current one has valid_from <= now < valid_to."""

    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="entitlements")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="entitlements")
    overrides = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per-limit overrides, e.g. {"seats": 40, "deploys_per_day": null}.',
    )
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True)
    source = models.CharField(
        max_length=16, choices=EntitlementSource.choices, default=EntitlementSource.MANUAL
    )
    external_ref = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = "entitlement"
        indexes = [models.Index(fields=["team", "valid_from"], name="entitlement_team_from")]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="entitlement_valid_range",
                violation_error_message="An entitlement must end after it starts.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.team} → {self.plan.code}"


class CreditKind(models.TextChoices):
    GRANT = "grant", "Grant"
    USAGE = "usage", "Usage"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"
    EXPIRY = "expiry", "Expiry"


POSITIVE_KINDS = (CreditKind.GRANT, CreditKind.REFUND)
NEGATIVE_KINDS = (CreditKind.USAGE, CreditKind.EXPIRY)


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="The AI-credit ledger: the balance customers pay for is the sum of these entries.",
    append_only=True,
    immutable=True,
)
class CreditEntry(models.Model):
    """One signed movement of a team's AI credits. Never updated or deleted (triggers)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=CreditKind.choices)
    amount = models.BigIntegerField(help_text="Signed: grants and refunds add, usage subtracts.")
    # No database constraints: the ledger outlives a purged workspace or run.
    workspace = models.ForeignKey(
        "workspaces.Workspace",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    run = models.ForeignKey(
        "deployments.Run",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    idempotency_key = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "credit entry"
        verbose_name_plural = "credit entries"
        indexes = [models.Index(fields=["team", "created_at"], name="credit_team_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "idempotency_key"],
                name="credit_unique_team_key",
                violation_error_message="This idempotency key was already used for this team.",
            ),
            models.CheckConstraint(
                condition=(
                    (Q(kind__in=["grant", "refund"]) & Q(amount__gt=0))
                    | (Q(kind__in=["usage", "expiry"]) & Q(amount__lt=0))
                    | (Q(kind="adjustment") & ~Q(amount=0))
                ),
                name="credit_amount_sign_matches_kind",
                violation_error_message="Grants and refunds add credits; usage and expiry remove.",
            ),
            models.CheckConstraint(
                condition=~Q(idempotency_key=""),
                name="credit_key_not_blank",
                violation_error_message="A credit entry needs an idempotency key.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} for team {self.team_id}"


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="One row per AI call; billing and invoices read it, so it is critical (seed 000).",
    append_only=True,
    immutable=True,
)
class AiUsage(models.Model):
    """One AI call: who, where, which model, tokens, provider cost and the credits it used."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="+")
    workspace = models.ForeignKey(
        "workspaces.Workspace",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    run = models.ForeignKey(
        "deployments.Run",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    model = models.CharField(max_length=100)
    input_tokens = models.PositiveIntegerField()
    output_tokens = models.PositiveIntegerField()
    cost_cents = models.PositiveIntegerField()
    duration_ms = models.PositiveIntegerField()
    credits = models.PositiveBigIntegerField()
    credit_entry = models.OneToOneField(
        CreditEntry, on_delete=models.DO_NOTHING, db_constraint=False, related_name="usage"
    )
    idempotency_key = models.CharField(max_length=200)
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
        verbose_name = "AI usage record"
        indexes = [models.Index(fields=["team", "created_at"], name="aiusage_team_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "idempotency_key"],
                name="aiusage_unique_team_key",
                violation_error_message="This AI call was already recorded.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.input_tokens}+{self.output_tokens} tokens"


class KpiKind(models.TextChoices):
    VIEW = "view", "View (seen)"
    CONVERSION = "conversion", "Conversion"
    CUSTOM = "custom", "Other event"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="workspace",
    reason="Daily KPI aggregates rolled up from .cache/kpi/*.jsonl; analytics, not billing.",
)
class KpiDaily(BaseModel):
    """Views, conversions and event counts of one event name and variant in one workspace-day."""

    day = models.DateField()
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="kpi_days"
    )
    event = models.CharField(max_length=100)
    variant = models.CharField(max_length=64, blank=True, default="")
    views = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    count = models.PositiveIntegerField(default=0, help_text="All events, whatever their kind.")
    value_sum = models.FloatField(default=0)

    class Meta:
        ordering = ["-day", "event", "variant"]
        verbose_name = "daily KPI aggregate"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "workspace", "event", "variant"],
                name="kpidaily_unique_day_ws_event_variant",
                violation_error_message="This day already has an aggregate for the event.",
            )
        ]

    def __str__(self) -> str:
        variant = f"[{self.variant}]" if self.variant else ""
        return f"{self.day} {self.event}{variant}: {self.views} views, {self.conversions} conv."
