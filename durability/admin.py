"""Admin for durability: the backup catalogue (restore/verify actions), the schema
document, and a point-in-time restore form."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from common.exceptions import ServiceError
from durability import services, versions
from durability.models import BackupRecord, SchemaVersion
from workspaces.models import Workspace


@admin.register(BackupRecord)
class BackupRecordAdmin(admin.ModelAdmin):
    list_display = [
        "backup_id",
        "workspace_slug",
        "status",
        "age",
        "row_count",
        "byte_count",
        "file_count",
        "verify_status",
        "verified_at",
        "trigger",
        "kind",
        "parent_backup_id",
    ]
    list_filter = ["status", "verify_status", "trigger", "kind"]
    search_fields = ["backup_id", "workspace_slug"]
    date_hierarchy = "taken_at"
    actions = ["restore_selected", "verify_selected"]
    readonly_fields = [f.name for f in BackupRecord._meta.fields]

    @admin.display(description="age")
    def age(self, obj):
        return timesince(obj.taken_at, timezone.now())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # retention prunes; the catalogue keeps what it pruned

    @admin.action(description="Restore the selected backup (replaces its workspace)")
    def restore_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one backup to restore.", messages.ERROR)
            return
        record = queryset.get()
        try:
            result = services.backup_restore(backup_id=record.backup_id, actor=request.user)
        except ServiceError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            f"Restored {sum(result['rows'].values())} rows into {result['workspace']}.",
            messages.SUCCESS,
        )

    @admin.action(description="Verify the selected backups in a scratch database")
    def verify_selected(self, request, queryset):
        for record in queryset:
            result = services.backup_verify(backup_id=record.backup_id, actor=request.user)
            if result["ok"]:
                self.message_user(request, f"{record.backup_id}: intact.", messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    f"{record.backup_id}: {'; '.join(result['problems'])}",
                    messages.ERROR,
                )

    def get_urls(self):
        return [
            path(
                "restore-point/",
                self.admin_site.admin_view(self.restore_point_view),
                name="durability_restore_point",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        reason = versions.refusal_reason()
        if reason is not None:
            self.message_user(request, reason[1], messages.ERROR)
        extra_context = {
            **(extra_context or {}),
            "restore_point_url": reverse("admin:durability_restore_point"),
        }
        return super().changelist_view(request, extra_context)

    def restore_point_view(self, request):
        form = RestorePointForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report = services.restore_point(
                    workspace=data["workspace"],
                    at=data["at"],
                    actor=request.user,
                    model=data["model"] or None,
                    object_id=data["object_id"],
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"Restored {len(report['restored'])} objects to {data['at']:%Y-%m-%d %H:%M}; "
                    f"{report['unchanged']} unchanged, {len(report['not_at_that_time'])} did not "
                    f"exist then (left as they are), {len(report['refused'])} refused.",
                    messages.SUCCESS,
                )
                return redirect("admin:durability_backuprecord_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Point-in-time restore",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/durability/restore_point.html", context)


class RestorePointForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.order_by("slug"))
    at = forms.DateTimeField(help_text="UTC, e.g. 2026-12-01 14:00")
    model = forms.CharField(required=False, help_text="app_label.Model; empty = whole workspace")
    object_id = forms.UUIDField(required=False)


@admin.register(SchemaVersion)
class SchemaVersionAdmin(admin.ModelAdmin):
    list_display = [
        "app_version",
        "app_last_migrated_by",
        "app_last_written_by",
        "views_version",
        "views_last_migrated_by",
        "code_versions",
    ]
    readonly_fields = [f.name for f in SchemaVersion._meta.fields]

    @admin.display(description="code declares")
    def code_versions(self, obj):
        return f"app v{versions.APP_VERSION}, views v{versions.code_views_version()}"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        reason = versions.refusal_reason()
        if reason is not None:
            self.message_user(request, reason[1], messages.ERROR)
        return super().changelist_view(request, extra_context)
