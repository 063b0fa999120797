"""The backups page: the workspace's backups with age and status, "back up now" and the
point-in-time restore form for admins. Both call `durability.services`.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Role
from common.exceptions import ServiceError
from workspaces.pages import form_error, page_context, paginate, workspace_page

from . import selectors, services
from .forms import RestorePointForm
from .models import BackupTrigger


def _backups_response(request, access, *, form=None, report=None):
    return render(
        request,
        "durability/backups.html",
        page_context(
            request,
            access,
            nav="backups",
            health=selectors.backup_health(access.workspace),
            page_obj=paginate(request, selectors.workspace_backups(access.workspace)),
            now=timezone.now(),
            form=form or RestorePointForm(),
            report=report,
        ),
    )


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def backups(request, access):
    return _backups_response(request, access)


@workspace_page(write=Role.ADMIN)
@require_POST
def backup_now(request, access):
    try:
        record = services.backup_create(
            workspace=access.workspace, actor=request.user, trigger=BackupTrigger.MANUAL
        )
    except ServiceError as exc:
        messages.error(request, f"The backup failed: {exc.message}")
    else:
        messages.success(request, f"Backup {record.backup_id} written ({record.row_count} rows).")
    return redirect(f"/w/{access.workspace.slug}/backups/")


@workspace_page(write=Role.ADMIN)
@require_POST
def restore_point(request, access):
    form = RestorePointForm(request.POST)
    report = None
    if form.is_valid():
        at = form.cleaned_data["at"]
        try:
            report = services.restore_point(
                workspace=access.workspace,
                actor=request.user,
                at=at,
                model=form.cleaned_data["model"] or None,
                object_id=form.cleaned_data["object_id"],
            )
        except ServiceError as exc:
            form_error(form, exc)
    return _backups_response(request, access, form=form, report=report)


def backup_health_panel(request, access, **page) -> dict:
    return {"health": selectors.backup_health(access.workspace)}
