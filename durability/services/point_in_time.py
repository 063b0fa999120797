"""Point-in-time restore from history: one object, or every history-tracked object of a
workspace, put back as it was at a moment; never destructive (it appends new versions).
"""

from __future__ import annotations

import datetime
from typing import Any, TypedDict
from uuid import UUID

from django.db import DatabaseError, IntegrityError, models, transaction
from django.utils import timezone

from accounts.models import User
from common.exceptions import NotFound, ValidationFailed
from durability import versions
from durability.services._shared import entry_model
from governance import registry
from governance.history import save_tracked
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Workspace


class RestoreReport(TypedDict):
    restored: list[dict[str, str]]  # {"model", "id", "action": "updated" | "recreated"}
    unchanged: int
    not_at_that_time: list[dict[str, str]]  # {"model", "id"}
    refused: list[dict[str, str]]  # {"model", "id", "error"}


def _history_entries() -> list[registry.Entry]:
    """Tenant models with simple-history, parents before children."""
    return [
        e
        for e in registry.backup_models()
        if e.history_of is None and registry.has_history(entry_model(e))
    ]


def restorable_models() -> list[str]:
    """Labels of the models a point-in-time restore can name."""
    return [e.key for e in _history_entries()]


def _resolve_model(label: str) -> registry.Entry:
    by_key = {e.key.lower(): e for e in _history_entries()}
    entry = by_key.get((label or "").lower())
    if entry is None:
        raise ValidationFailed(
            f"{label!r} is not a workspace model with history (use app_label.ModelName).",
            field="model",
        )
    return entry


def _tracked_attnames(model: type[models.Model], historical: type[models.Model]) -> list[str]:
    hist_fields = {f.attname for f in historical._meta.concrete_fields}
    skip = {model._meta.pk.attname, "updated_at"}
    return [
        f.attname
        for f in model._meta.concrete_fields
        if f.attname in hist_fields and f.attname not in skip
    ]


def restore_point(
    *,
    workspace: Workspace,
    at: datetime.datetime,
    actor: User | None,
    model: str | None = None,
    object_id: UUID | str | None = None,
) -> RestoreReport:
    """Put one object, or every history-tracked object of the workspace, back as it was at `at`.

    Non-destructive: each change is a normal save that writes a new history row with the
    reason "restored to <at> by <actor>"; history is never deleted. An object deleted
    since `at` is recreated. Objects that did not exist at `at` (created later) are left
    as they are and reported under `not_at_that_time`; a row the database refuses to
    change (a frozen table) is reported under `refused`.
    """
    versions.check_writable()
    if at > timezone.now():
        raise ValidationFailed("The point in time is in the future.", field="at")
    if object_id is not None and not model:
        raise ValidationFailed("Name the model of the object to restore.", field="model")
    entries = [_resolve_model(model)] if model else _history_entries()
    who = getattr(actor, "handle", None) or getattr(actor, "email", None) or "system"
    reason = f"restored to {at.astimezone(datetime.UTC):%Y-%m-%dT%H:%M:%SZ} by {who}"[:100]
    report: RestoreReport = {"restored": [], "unchanged": 0, "not_at_that_time": [], "refused": []}
    with transaction.atomic():
        for entry in entries:
            _restore_model_at(entry, workspace, at, actor, reason, object_id, report)
        if object_id is not None and not (
            report["restored"]
            or report["unchanged"]
            or report["not_at_that_time"]
            or report["refused"]
        ):
            raise NotFound("That object has no history in this workspace.")
        audit_record(
            action=AuditAction.RESTORE_POINT,
            summary=f"Point-in-time restore of {model or 'the workspace'} to {at.isoformat()}",
            actor=actor,
            workspace=workspace,
            data={
                "at": at.isoformat(),
                "model": model,
                "object_id": str(object_id) if object_id else None,
                "restored": len(report["restored"]),
                "not_at_that_time": len(report["not_at_that_time"]),
                "refused": len(report["refused"]),
            },
        )
    return report


def _restore_model_at(
    entry: registry.Entry,
    workspace: Workspace,
    at: datetime.datetime,
    actor: User | None,
    reason: str,
    object_id: UUID | str | None,
    report: RestoreReport,
) -> None:
    model = entry_model(entry)
    historical = registry.history_model_for(model)
    hist_entry = registry.entry_for_model(historical) if historical is not None else None
    if historical is None or hist_entry is None:
        raise TypeError(f"{entry.key} has no registered history model")
    history = registry.workspace_queryset(hist_entry, workspace).order_by()
    live = registry.workspace_queryset(entry, workspace).order_by()
    if object_id is not None:
        history = history.filter(id=object_id)
        live = live.filter(pk=object_id)
    attnames = _tracked_attnames(model, historical)
    at_t: dict[Any, Any] = {}
    for row in history.filter(history_date__lte=at).order_by("id", "-history_date", "-pk"):
        at_t.setdefault(row.id, row)
    if object_id is not None and not at_t and not live.exists():
        return
    live_ids = set(live.values_list("pk", flat=True))
    for pk, row in at_t.items():
        if row.history_type == "-":
            if pk in live_ids:
                report["not_at_that_time"].append({"model": entry.key, "id": str(pk)})
            continue
        current = model._default_manager.filter(pk=pk).first()
        if current is not None and all(getattr(current, a) == getattr(row, a) for a in attnames):
            report["unchanged"] += 1
            continue
        obj = current if current is not None else model(pk=pk)
        for attname in attnames:
            setattr(obj, attname, getattr(row, attname))
        try:
            with transaction.atomic():
                # A recreated object has its old primary key and `_state.adding`, so
                # save() inserts it; a live one is updated in place.
                save_tracked(obj, actor=actor, reason=reason)
        except (IntegrityError, DatabaseError) as exc:
            report["refused"].append({"model": entry.key, "id": str(pk), "error": str(exc)[:200]})
            continue
        report["restored"].append(
            {"model": entry.key, "id": str(pk), "action": "updated" if current else "recreated"}
        )
    for pk in sorted(live_ids - set(at_t), key=str):
        report["not_at_that_time"].append({"model": entry.key, "id": str(pk)})
