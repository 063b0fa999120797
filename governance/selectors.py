"""Governance reads: a workspace's audit trail across every history table, and registry figures."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass

from django.db import connection, models
from django.db.models import CharField, OuterRef, Subquery, Value

from . import registry
from .registry import Entry

LARGE_TABLE_ROWS = 100_000


# --- the workspace's governance actions -------------------------------------------------


def workspace_audit_events(*, workspace, action: str | None = None) -> models.QuerySet:
    """The workspace's AuditEvents (backups, restores, approvals, ...), newest first."""
    from .models import AuditEvent

    events = AuditEvent.objects.filter(workspace_id=workspace.pk).select_related("actor")
    if action:
        events = events.filter(action=action)
    return events.order_by("-created_at", "-id")


# --- the workspace history ------------------------------------------------------------


def workspace_history_labels() -> list[str]:
    """Labels of the tracked models whose history a workspace's trail shows."""
    return sorted(entry.history_of or "" for entry, _ in registry.workspace_history_models())


def workspace_history(*, workspace, model: str | None = None, object_id=None) -> models.QuerySet:
    """One row per history record of `workspace`'s models, newest first.

    A UNION over every history table of a workspace-scoped model (from the
    registry), selecting only (model, history_id, history_date); pages of it are
    hydrated by `history_entries()`. Filter by tracked model label and object id.
    """
    parts = []
    for entry, history_model in registry.workspace_history_models():
        if model is not None and (entry.history_of or "").lower() != model.lower():
            continue
        qs = history_model._default_manager.filter(**registry.tenant_filter(entry, workspace))
        if object_id is not None:
            qs = qs.filter(id=object_id)
        parts.append(
            qs.order_by()
            .annotate(model_label=Value(entry.key, output_field=CharField()))
            .values("history_date", "history_id", "model_label")
        )
    if not parts:
        return _empty()
    union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return union.order_by("-history_date", "-history_id")


def _empty():
    from .models import AuditEvent

    return AuditEvent.objects.none().values("created_at")


def _json_safe(value):
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _snapshot(record, fields) -> dict:
    return {f.name: _json_safe(getattr(record, f.attname)) for f in fields}


def _changes(record, previous) -> dict:
    fields = list(type(record).tracked_fields)
    if record.history_type == "-":
        return {k: {"from": v, "to": None} for k, v in _snapshot(record, fields).items()}
    if record.history_type == "+" or previous is None:
        return {k: {"from": None, "to": v} for k, v in _snapshot(record, fields).items()}
    delta = record.diff_against(previous)
    return {
        change.field: {"from": _json_safe(change.old), "to": _json_safe(change.new)}
        for change in sorted(delta.changes, key=lambda c: c.field)
    }


def history_entries(rows) -> list[dict]:
    """Hydrate a page of `workspace_history()` rows: who, what, when, and the field diffs.

    Two queries per history table present on the page (its rows with their
    predecessors' ids, then the predecessors), whatever the page size.
    """
    by_label: dict[str, list] = {}
    for row in rows:
        by_label.setdefault(row["model_label"], []).append(row["history_id"])
    records: dict = {}
    for label, ids in sorted(by_label.items()):
        entry = registry.entry_for_key(label)
        if entry is None:  # a label from the union is always a registered history table
            raise LookupError(label)
        history_model = entry.model
        manager = history_model._default_manager
        previous_id = (
            manager.filter(id=OuterRef("id"), history_date__lt=OuterRef("history_date"))
            .order_by("-history_date")
            .values("history_id")[:1]
        )
        found = list(
            manager.filter(history_id__in=ids)
            .select_related("history_user")
            .annotate(previous_history_id=Subquery(previous_id))
        )
        wanted = {r.previous_history_id for r in found if r.previous_history_id is not None}
        previous = manager.in_bulk(list(wanted)) if wanted else {}
        for record in found:
            records[(label, record.history_id)] = (
                entry,
                record,
                previous.get(record.previous_history_id),
            )
    out = []
    for row in rows:
        entry, record, prev = records[(row["model_label"], row["history_id"])]
        user = record.history_user
        out.append(
            {
                "model": entry.history_of,
                "history_model": entry.key,
                "object_id": str(record.id),
                "history_id": str(record.history_id),
                "history_date": record.history_date,
                "history_type": record.history_type,
                "change_reason": record.history_change_reason or "",
                "user": {"id": str(user.pk), "handle": user.handle} if user is not None else None,
                "changes": _changes(record, prev),
            }
        )
    return out


# --- registry figures for the admin ----------------------------------------------------


@dataclass(frozen=True)
class RowCount:
    value: int | None
    estimated: bool = False


def row_count(entry: Entry) -> RowCount:
    """Rows in a model's table: the planner's estimate on large PostgreSQL tables, else exact."""
    if entry.kind != "model":
        return RowCount(None)
    model = entry.model
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                [connection.ops.quote_name(model._meta.db_table)],
            )
            found = cursor.fetchone()
        estimate = found[0] if found else None
        if estimate is not None and estimate > LARGE_TABLE_ROWS:
            return RowCount(int(estimate), estimated=True)
    return RowCount(model._base_manager.order_by().count())


# Durability sits above governance, so it hands the registry page its "last backup" reader
# in its ready() instead of governance importing it.
_last_backup_reader = None


def register_last_backup_reader(reader) -> None:
    """`reader()` returns the newest successful backup record, or None."""
    global _last_backup_reader
    _last_backup_reader = reader


def last_successful_backup():
    """The newest successful backup, or None when no backup app registered a reader."""
    return _last_backup_reader() if _last_backup_reader is not None else None


@dataclass(frozen=True)
class RegistryRow:
    entry: Entry
    class_label: str
    history: str  # "on" | "off" | "is history" | "—" (stores)
    in_backups: bool
    carried_by: str  # which backup carries it ("" when none)
    rows: RowCount
    flags: str
    violations: list


def _flags(entry: Entry) -> str:
    flags = [
        name
        for name in ("append_only", "immutable", "encrypted", "atomic_replace", "tolerant_reader")
        if getattr(entry, name)
    ]
    if entry.ttl is not None:
        flags.append(f"ttl={entry.ttl}s")
    if entry.cleanup:
        flags.append(f"cleanup={entry.cleanup}")
    if entry.backup_via:
        flags.append(f"backup_via={entry.backup_via}")
    return ", ".join(flags)


def history_state(entry: Entry) -> str:
    if entry.kind != "model":
        return "—"
    if entry.history_of:
        return "is history"
    return "on" if registry.has_history(entry.model) else "off"


def registry_rows(*, data_class: str | None = None, violations=None) -> list[RegistryRow]:
    """The admin's Data registry table: one row per registered model and store."""
    from .checks import entry_violations
    from .registry import DataClass

    labels = dict(DataClass.choices)
    rows = []
    for entry in registry.all_entries():
        if data_class and entry.data_class != data_class:
            continue
        rows.append(
            RegistryRow(
                entry=entry,
                class_label=labels.get(entry.data_class, entry.data_class),
                history=history_state(entry),
                in_backups=bool(registry.backup_carrier(entry) or entry.backup_via),
                carried_by=registry.backup_carrier(entry) or (entry.backup_via or ""),
                rows=row_count(entry),
                flags=_flags(entry),
                violations=entry_violations(entry)
                + [v for v in (violations or []) if v.key == entry.key],
            )
        )
    return rows
