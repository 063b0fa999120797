"""Admin for governance: the read-only audit log, the Data registry page, audited auth groups."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path

from common.admin import HistoryAdmin

from . import checks, selectors
from .models import AuditEvent
from .registry import DataClass


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "workspace_slug", "actor", "summary"]
    list_filter = ["action"]
    search_fields = ["summary", "workspace_slug", "target_id"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


# Staff groups are critical and history-tracked (governance/models.py): history and revert.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin, HistoryAdmin):
    pass


def data_registry_view(request):
    """Staff-only table of every registered model and store, with figures and violations."""
    selected = request.GET.get("data_class") or None
    status = 200
    error = ""
    if selected is not None and selected not in DataClass.values:
        error = f"Unknown data class {selected!r}; showing every class."
        selected = None
        status = 400
    # Rules not tied to one entry: unregistered models, stale registrations, `.cache` literals.
    global_violations = (
        checks.rule_unregistered()
        + checks.rule_stale_registrations()
        + checks.rule_cache_literals()
    )
    database_violations = checks.rule_immutable_tables()
    rows = selectors.registry_rows(data_class=selected, violations=database_violations)
    context = {
        **admin.site.each_context(request),
        "title": "Data registry",
        "rows": rows,
        "classes": DataClass.choices,
        "selected": selected,
        "error": error,
        "global_violations": global_violations,
        "violation_count": len(global_violations) + sum(len(r.violations) for r in rows),
        "last_backup": selectors.last_successful_backup(),
    }
    response = TemplateResponse(request, "admin/governance/data_registry.html", context)
    if status == 400:
        response.render()
        return HttpResponseBadRequest(response.rendered_content)
    return response


def _with_registry_urls(get_urls):
    def urls():
        return [
            path(
                "data-registry/",
                admin.site.admin_view(data_registry_view),
                name="data_registry",
            ),
            *get_urls(),
        ]

    return urls


admin.site.get_urls = _with_registry_urls(admin.site.get_urls)  # type: ignore[method-assign]
admin.site.index_template = "admin/governance/index.html"
