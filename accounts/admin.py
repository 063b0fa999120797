"""Admin for accounts: ops read everything; writes go through accounts.services."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from common.admin import HistoryAdmin, ReadOnlyAdminMixin, RevertOnlyAdminMixin
from common.exceptions import ServiceError

from . import services
from .models import (
    ApiToken,
    Capability,
    Invitation,
    InvitationStatus,
    Membership,
    Team,
    User,
    UserStatus,
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin, HistoryAdmin):
    """Users are created and changed through the services and never deleted: suspend or
    ban them (history keeps pointing at them)."""

    ordering = ["handle"]
    list_display = [
        "handle",
        "email",
        "display_name",
        "status",
        "age_layer",
        "is_staff",
        "created_at",
    ]
    list_filter = ["status", "age_layer", "is_staff", "is_superuser"]
    search_fields = ["handle", "email", "display_name"]
    # Status, age layer and verification change through services that append identity events.
    readonly_fields = [
        "status",
        "age_layer",
        "verified_at",
        "created_at",
        "updated_at",
        "last_login",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "email",
                    "handle",
                    "display_name",
                    "password",
                    "status",
                    "age_layer",
                    "verified_at",
                ]
            },
        ),
        ("Permissions", {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "handle", "password1", "password2"]}),
    ]
    actions = ["suspend", "ban", "reactivate"]

    def get_readonly_fields(self, request, obj=None):
        # A handle never changes after creation.
        return [*self.readonly_fields, "handle"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            fields = [f for f in form.changed_data if f in services.USER_ADMIN_FIELDS]
            services.user_update(
                user=obj, fields=fields, actor=request.user, reason="changed in the admin"
            )
            return
        user = services.user_create(
            email=obj.email, handle=obj.handle, password=form.cleaned_data["password1"]
        )
        obj.pk, obj._state.adding, obj._state.db = user.pk, False, user._state.db

    def _set_status(self, request, queryset, status):
        for user in queryset:
            services.user_set_status(
                user=user, status=status, actor=request.user, reason=f"{status} in the admin"
            )
        self.message_user(request, f"{queryset.count()} user(s) now {status}.", messages.SUCCESS)

    @admin.action(description="Suspend the selected users")
    def suspend(self, request, queryset):
        self._set_status(request, queryset, UserStatus.SUSPENDED)

    @admin.action(description="Ban the selected users")
    def ban(self, request, queryset):
        self._set_status(request, queryset, UserStatus.BANNED)

    @admin.action(description="Reactivate the selected users")
    def reactivate(self, request, queryset):
        self._set_status(request, queryset, UserStatus.ACTIVE)


class MembershipInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]


@admin.register(Team)
class TeamAdmin(RevertOnlyAdminMixin, HistoryAdmin):
    list_display = ["name", "slug", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["team", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["team__name", "user__handle", "user__email"]


@admin.register(Capability)
class CapabilityAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Granted with the add form and revoked with the action, both through the services
    (history names the staff user); never deleted as a row from here."""

    list_display = ["user", "capability", "denied", "created_at"]
    list_filter = ["capability", "denied"]
    search_fields = ["user__handle"]
    fields = ["user", "capability", "denied"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def has_add_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def save_model(self, request, obj, form, change):
        services.capability_check_granter(actor=request.user)
        if obj.denied:  # a denial of a default capability: revoke it
            services.capability_revoke(
                user=obj.user,
                capability=obj.capability,
                actor=request.user,
                reason="revoked in admin",
            )
            cap = Capability.objects.get(user=obj.user, capability=obj.capability)
        else:
            cap = services.capability_grant(
                user=obj.user,
                capability=obj.capability,
                actor=request.user,
                reason="granted in admin",
            )
        obj.pk, obj._state.adding, obj._state.db = cap.pk, False, cap._state.db

    @admin.action(description="Revoke the selected capabilities")
    def revoke(self, request, queryset):
        services.capability_check_granter(actor=request.user)
        count = 0
        for cap in queryset.select_related("user"):
            count += services.capability_revoke(
                user=cap.user,
                capability=cap.capability,
                actor=request.user,
                reason="revoked in admin",
            )
        self.message_user(request, f"{count} capability grant(s) revoked.", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__handle", "prefix"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Read-only; the one write is revoking, through `services.invitation_revoke`."""

    list_display = ["email", "team", "role", "status", "invited_by", "expires_at", "created_at"]
    list_filter = ["status", "role"]
    search_fields = ["email", "team__name", "team__slug", "invited_by__handle"]
    list_select_related = ["team", "invited_by"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected pending invitations")
    def revoke(self, request, queryset):
        revoked = 0
        for invitation in queryset.filter(status=InvitationStatus.PENDING):
            try:
                services.invitation_revoke(invitation=invitation, actor=request.user)
            except ServiceError as error:
                self.message_user(request, f"{invitation}: {error.message}", messages.ERROR)
            else:
                revoked += 1
        self.message_user(request, f"{revoked} invitation(s) revoked.", messages.SUCCESS)


from . import admin_safety  # noqa: E402, F401  (identity events, edges, moderation, risk)
