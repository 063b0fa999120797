"""Admin for accounts."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from common.admin import HistoryAdmin

from .models import ApiToken, Capability, Membership, Team, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin, HistoryAdmin):
    ordering = ["handle"]
    list_display = ["handle", "email", "display_name", "status", "is_staff", "created_at"]
    list_filter = ["status", "is_staff", "is_superuser"]
    search_fields = ["handle", "email", "display_name"]
    readonly_fields = ["created_at", "updated_at", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "handle", "display_name", "password", "status"]}),
        ("Permissions", {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "handle", "password1", "password2"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # A handle never changes after creation.
        return [*self.readonly_fields, "handle"] if obj else self.readonly_fields


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(HistoryAdmin):
    list_display = ["name", "slug", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(HistoryAdmin):
    list_display = ["team", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["team__name", "user__handle", "user__email"]
    autocomplete_fields = ["team", "user"]


@admin.register(Capability)
class CapabilityAdmin(HistoryAdmin):
    list_display = ["user", "capability", "created_at"]
    list_filter = ["capability"]
    search_fields = ["user__handle"]


@admin.register(ApiToken)
class ApiTokenAdmin(HistoryAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__handle", "prefix"]
    readonly_fields = ["prefix", "key_hash", "last_used_at"]
