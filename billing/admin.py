"""Billing admin: ops grant and change plans and entitlements here, through the services
(history and an `entitlement` AuditEvent for each change); the credit ledger and AI usage
are read-only, and credits are granted with the ledger's add form, which calls the service.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from common.admin import HistoryAdmin, ReadOnlyAdminMixin
from common.exceptions import ServiceError

from . import selectors, services
from .models import (
    LIMIT_NAMES,
    AiUsage,
    CreditEntry,
    CreditKind,
    Entitlement,
    KpiDaily,
    Plan,
)


def _service_call(form, fn, **kwargs):
    """Run a service for an admin form; a refusal becomes a form error, not a 500."""
    try:
        return fn(**kwargs)
    except ServiceError as exc:
        raise ValidationError({exc.field or None: exc.message} if exc.field else exc.message)


@admin.register(Plan)
class PlanAdmin(HistoryAdmin):
    list_display = ["code", "name", "is_default", *LIMIT_NAMES]
    list_filter = ["is_default"]
    search_fields = ["code", "name"]

    def has_delete_permission(self, request, obj=None):
        return False  # entitlements point at plans; retire a plan by not granting it

    def save_model(self, request, obj, form, change):
        services.plan_save(plan=obj, actor=request.user)


class EntitlementForm(forms.ModelForm):
    class Meta:
        model = Entitlement
        fields = [
            "team",
            "plan",
            "overrides",
            "valid_from",
            "valid_to",
            "source",
            "external_ref",
            "note",
        ]

    def clean_overrides(self):
        try:
            return services.validate_overrides(self.cleaned_data.get("overrides"))
        except ServiceError as exc:
            raise ValidationError(exc.message) from None


@admin.register(Entitlement)
class EntitlementAdmin(HistoryAdmin):
    form = EntitlementForm
    list_display = ["team", "plan", "valid_from", "valid_to", "source", "created_by", "note"]
    list_filter = ["plan", "source"]
    search_fields = ["team__name", "team__slug", "note", "external_ref"]
    date_hierarchy = "valid_from"
    autocomplete_fields = ["team"]
    readonly_fields = ["created_by"]
    actions = ["end_now"]

    def get_readonly_fields(self, request, obj=None):
        return ["team", "created_by"] if obj is not None else ["created_by"]

    def has_delete_permission(self, request, obj=None):
        return False  # end an entitlement instead; its history stays

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data.get(name) for name in services.ENTITLEMENT_EDITABLE}
        if change:
            fresh = Entitlement.objects.get(pk=obj.pk)
            saved = services.entitlement_update(entitlement=fresh, actor=request.user, **data)
        else:
            saved = services.entitlement_grant(team=obj.team, actor=request.user, **data)
        obj.pk, obj._state.adding = saved.pk, False

    @admin.action(description="End the selected entitlements now (the default plan follows)")
    def end_now(self, request, queryset):
        ended = 0
        for entitlement in queryset.select_related("team"):
            if entitlement.valid_to is None or entitlement.valid_to > entitlement.valid_from:
                services.entitlement_end(entitlement=entitlement, actor=request.user)
                ended += 1
        self.message_user(request, f"Ended {ended} entitlement(s).", messages.SUCCESS)


class CreditGrantForm(forms.ModelForm):
    """The ledger's add form: record a grant, refund, adjustment or expiry via the service."""

    amount = forms.IntegerField(
        help_text="Signed as stored: grants and refunds > 0, expiry < 0, adjustments either."
    )
    idempotency_key = forms.CharField(
        max_length=200,
        required=False,
        help_text="Leave blank for a new key; reuse a key to make a retried grant a no-op.",
    )

    class Meta:
        model = CreditEntry
        fields = ["team", "kind", "amount", "workspace", "idempotency_key", "note"]

    def clean_kind(self):
        kind = self.cleaned_data["kind"]
        if kind == CreditKind.USAGE:
            raise ValidationError("Usage is recorded by AI calls, not by hand.")
        return kind

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        import uuid

        key = data.get("idempotency_key") or f"admin:{uuid.uuid4()}"
        self.entry = _service_call(
            self,
            services.credits_record,
            team=data["team"],
            kind=data["kind"],
            amount=data["amount"],
            idempotency_key=key,
            actor=self.request_user,
            workspace=data.get("workspace"),
            note=data.get("note") or "",
        )[0]
        return data

    def _post_clean(self):
        pass  # the service validated and wrote the entry; the unsaved instance is not used


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "team", "kind", "amount", "workspace", "created_by", "note"]
    list_filter = ["kind", "created_at"]
    search_fields = ["team__name", "team__slug", "idempotency_key", "note"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["team", "workspace"]
    list_select_related = ["team", "created_by", "workspace"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = CreditGrantForm
            form = super().get_form(request, obj, change=change, **kwargs)
            form.request_user = request.user
            return form
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        entry = form.entry
        for field in CreditEntry._meta.concrete_fields:
            setattr(obj, field.attname, getattr(entry, field.attname))
        obj._state.adding = False
        balance = selectors.credit_balance(team=entry.team)
        self.message_user(request, f"Recorded. The team's balance is now {balance}.")

    def save_related(self, request, form, formsets, change):
        pass


@admin.register(AiUsage)
class AiUsageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "team",
        "workspace",
        "model",
        "input_tokens",
        "output_tokens",
        "cost_cents",
        "credits",
        "duration_ms",
    ]
    list_filter = ["model", "created_at"]
    search_fields = ["team__name", "team__slug", "model", "idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["team", "workspace"]


@admin.register(KpiDaily)
class KpiDailyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "workspace", "event", "variant", "views", "conversions", "count"]
    list_filter = ["day", "event"]
    search_fields = ["event", "variant", "workspace__slug"]
    date_hierarchy = "day"
    list_select_related = ["workspace"]
