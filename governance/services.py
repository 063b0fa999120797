"""Governance writes: audit events (and, in later work, purge, backups, restore)."""

from django.db import transaction

from .models import AuditAction, AuditEvent


@transaction.atomic
def audit_record(
    *,
    action: AuditAction | str,
    summary: str,
    actor=None,
    workspace=None,
    target=None,
    data: dict | None = None,
) -> AuditEvent:
    """Append one AuditEvent; `target` is any model instance the action was about."""
    return AuditEvent.objects.create(
        action=action,
        summary=summary[:500],
        actor=actor if actor is not None and actor.is_authenticated else None,
        workspace=workspace,
        workspace_slug=getattr(workspace, "slug", "") or "",
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
    )
