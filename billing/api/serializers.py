"""Billing API serializers. Output shapes only, plus the KPI event input; none writes."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import LIMIT_NAMES, CreditEntry, Entitlement, KpiDaily, KpiKind, Plan


class PlanOutput(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = ["code", "name", "is_default", *LIMIT_NAMES]


class EntitlementOutput(serializers.ModelSerializer):
    plan = serializers.CharField(source="plan.code")

    class Meta:
        model = Entitlement
        fields = ["id", "plan", "overrides", "valid_from", "valid_to", "source", "note"]


class LimitUsageOutput(serializers.Serializer):
    limit = serializers.IntegerField(allow_null=True, help_text="null: unlimited")
    used = serializers.IntegerField()
    remaining = serializers.IntegerField(allow_null=True)


def _limits_field(child):
    return serializers.DictField(child=child, help_text="Keyed by " + ", ".join(LIMIT_NAMES))


class BillingOutput(serializers.Serializer):
    team = serializers.UUIDField(source="team.pk")
    plan = PlanOutput()
    entitlement = EntitlementOutput(allow_null=True)
    limits = _limits_field(serializers.IntegerField(allow_null=True))
    usage = _limits_field(LimitUsageOutput())
    credit_balance = serializers.IntegerField()


class CreditEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = CreditEntry
        fields = [
            "id",
            "created_at",
            "kind",
            "amount",
            "workspace",
            "run",
            "idempotency_key",
            "created_by",
            "note",
        ]


class KpiEventInput(serializers.Serializer):
    event = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$",
        max_length=100,
        help_text="Event name, e.g. `pricing.cta`.",
    )
    kind = serializers.ChoiceField(choices=KpiKind.choices, default=KpiKind.VIEW)
    variant = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{0,64}$",
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="A/B variant, e.g. `b`.",
    )
    value = serializers.FloatField(required=False, allow_null=True, default=None)
    properties = serializers.DictField(required=False, default=dict)

    def validate_value(self, value):
        import math

        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("The value is a finite number.")
        return value


class KpiEventOutput(serializers.Serializer):
    ts = serializers.DateTimeField()
    event = serializers.CharField()
    kind = serializers.ChoiceField(choices=KpiKind.choices)
    variant = serializers.CharField()
    value = serializers.FloatField(allow_null=True)


class KpiDailyOutput(serializers.ModelSerializer):
    class Meta:
        model = KpiDaily
        fields = ["day", "event", "variant", "views", "conversions", "count", "value_sum"]


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "object", "additionalProperties": {"type": "object"}},
    }
)
class PriorsField(serializers.DictField):
    pass


class KpiPriorsOutput(serializers.Serializer):
    events = PriorsField(help_text="event → variant (`_` for none) → views, conversions, rate…")


class KpiFilter(serializers.Serializer):
    day = serializers.DateField(required=False, help_text="Only this day (YYYY-MM-DD).")
    event = serializers.CharField(required=False, max_length=100, help_text="Only this event.")
