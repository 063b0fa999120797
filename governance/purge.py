"""The one sanctioned removal of a workspace's data: `workspace_purge`.

It records an AuditEvent first (a workspace's audit events are kept forever, so the
record of the purge outlives what it removed), then deletes every tenant row of the
workspace, history and other immutable rows included, children before parents, in
one transaction under `allow_purge()`. `delete_workspace_rows` is the deletion core;
restore-in-place reuses it.
"""

from __future__ import annotations

from django.db import transaction

from governance import registry
from governance.immutability import allow_purge

# Rows that survive a purge and a restore-in-place: the audit trail itself.
KEEP_FOREVER = frozenset({"governance.AuditEvent"})


def tenant_entries() -> list[registry.Entry]:
    """Every tenant-scoped model (in backups or not), parents before children."""
    return registry._dependency_order([e for e in registry.model_entries() if not e.is_global])


def workspace_row_counts(workspace, *, using: str = "default") -> dict[str, int]:
    counts = {}
    for entry in tenant_entries():
        n = registry.workspace_queryset(entry, workspace).using(using).count()
        if n:
            counts[entry.key] = n
    return counts


def delete_workspace_rows(
    workspace, *, keep: frozenset[str] = KEEP_FOREVER, using: str = "default"
) -> dict[str, int]:
    """Delete the workspace's rows of every tenant model except `keep`, children first.

    Must run inside a transaction that holds `allow_purge()`; returns rows deleted per model.
    """
    deleted = {}
    for entry in reversed(tenant_entries()):
        if entry.key in keep:
            continue
        qs = registry.workspace_queryset(entry, workspace).using(using).order_by()
        n = qs._raw_delete(using)
        if n:
            deleted[entry.key] = n
    return deleted


def workspace_purge(*, workspace, actor, reason: str) -> dict:
    """Remove every tenant row of `workspace` (its audit events stay); returns what went."""
    from governance.models import AuditAction
    from governance.services import audit_record

    reason = (reason or "").strip()
    if not reason:
        from common.exceptions import ValidationFailed

        raise ValidationFailed("A purge needs a reason.", field="reason")
    with transaction.atomic():
        counts = workspace_row_counts(workspace)
        event = audit_record(
            action=AuditAction.PURGE,
            summary=f"Purge of workspace {workspace.slug}: {reason}",
            actor=actor,
            workspace=workspace,
            target=workspace,
            data={"reason": reason, "rows": counts, "workspace_id": str(workspace.pk)},
        )
        with allow_purge():
            deleted = delete_workspace_rows(workspace)
    return {"audit_event": str(event.pk), "deleted": deleted}
