"""Approvals: request, decide, use exactly once; `_guarded` runs one approved side effect."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Role
from common import events
from common.exceptions import Conflict, Forbidden, ValidationFailed
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Project

from ..adapters import AdapterError
from ..models import (
    Approval,
    ApprovalScope,
    ApprovalStatus,
    Run,
    RunStep,
    StepStatus,
)
from ..redaction import redact, redact_text
from ._common import (
    ApprovalRefused,
    ProviderFailed,
    _check_same_project,
    _existing,
    _lock_project,
    _require_role,
    _save,
    payload_sha256,
)
from .runs import _locked_step, step_record

# --- approvals -----------------------------------------------------------------------------


@transaction.atomic
def approval_request(
    *,
    project: Project,
    scope: str,
    payload: dict,
    intent_summary: str,
    actor,
    run: Run | None = None,
    step: RunStep | None = None,
    expires_in: int | None = None,
    metadata: dict | None = None,
    idempotency_key: str = "",
) -> tuple[Approval, bool]:
    """Ask for approval of one exact action: `payload` is the action's body."""
    if scope not in ApprovalScope.values:
        raise ValidationFailed("Unknown approval scope.", field="scope")
    if not isinstance(payload, dict):
        raise ValidationFailed("The payload is the JSON object of the action.", field="payload")
    if not intent_summary.strip():
        raise ValidationFailed("Say what the action will do.", field="intent_summary")
    _check_same_project(project, run=run)
    if step is not None and (run is None or step.run_id != run.pk):
        raise ValidationFailed("This step is not part of the given run.", field="step")
    ttl = settings.APPROVAL_TTL_SECONDS
    if expires_in is not None:
        if expires_in < 1 or expires_in > ttl:
            raise ValidationFailed(f"Choose 1 to {ttl} seconds.", field="expires_in")
        ttl = expires_in
    _lock_project(project)
    existing = _existing(Approval, project, idempotency_key)
    if existing is not None:
        return existing, False
    approval = Approval(
        project=project,
        run=run,
        step=step,
        scope=scope,
        intent_summary=redact_text(intent_summary.strip())[:500],
        payload=redact(payload),
        payload_sha256=payload_sha256(payload),
        requested_by=actor,
        expires_at=timezone.now() + timedelta(seconds=ttl),
        metadata=redact(metadata or {}),
        idempotency_key=idempotency_key,
    )
    _save(approval, actor)
    deciders = Membership.objects.filter(
        team_id=project.workspace.team_id, role__in=[Role.OWNER, Role.ADMIN]
    ).values_list("user_id", flat=True)
    events.emit(
        "approval.requested",
        workspace_id=project.workspace_id,
        data=_approval_data(approval),
        summary=f"Approval requested for {approval.scope}: {approval.intent_summary[:120]}",
        actor=actor,
        notify=list(deciders),
        link=f"/w/{project.workspace.slug}/approvals/",
    )
    return approval, True


def _approval_data(approval: Approval) -> dict:
    return {
        "id": str(approval.pk),
        "project": str(approval.project_id),
        "scope": approval.scope,
        "status": approval.status,
        "intent_summary": approval.intent_summary,
        "payload_sha256": approval.payload_sha256,
        "requested_by": str(approval.requested_by_id),
    }


def _decide(approval: Approval, *, actor, approve: bool, note: str) -> Approval:
    project = approval.project
    approval = Approval.objects.select_for_update().get(pk=approval.pk)
    _require_role(project, actor, Role.ADMIN, "Only a workspace admin or owner can decide.")
    if approval.status != ApprovalStatus.PENDING:
        raise Conflict(f"This approval is already {approval.status}.", code="already_decided")
    now = timezone.now()
    if approval.expires_at <= now:
        raise Conflict("This approval request has expired.", code="approval_expired")
    if approve and approval.requested_by_id == actor.pk:
        raise Forbidden("You cannot approve your own request.", code="self_approval")
    if approve:
        approval.status = ApprovalStatus.APPROVED
        approval.approved_by, approval.approved_at = actor, now
        fields = ["status", "approved_by", "approved_at", "decision_note"]
    else:
        approval.status = ApprovalStatus.REJECTED
        approval.rejected_by, approval.rejected_at = actor, now
        fields = ["status", "rejected_by", "rejected_at", "decision_note"]
    approval.decision_note = redact_text(note or "")[:500]
    _save(approval, actor, fields)
    audit_record(
        action=AuditAction.APPROVAL,
        summary=f"{'Approved' if approve else 'Rejected'} {approval.scope}: "
        f"{approval.intent_summary}",
        actor=actor,
        workspace=project.workspace,
        target=approval,
        data={
            "decision": approval.status,
            "scope": approval.scope,
            "payload_sha256": approval.payload_sha256,
            "project": str(project.pk),
            "requested_by": str(approval.requested_by_id),
        },
    )
    events.emit(
        "approval.decided",
        workspace_id=project.workspace_id,
        data={**_approval_data(approval), "decided_by": str(actor.pk)},
        summary=f"Your {approval.scope} request was {approval.status}",
        actor=actor,
        notify=[approval.requested_by_id],
        link=f"/w/{project.workspace.slug}/approvals/",
    )
    return approval


@transaction.atomic
def approval_approve(*, approval: Approval, actor, note: str = "") -> Approval:
    return _decide(approval, actor=actor, approve=True, note=note)


@transaction.atomic
def approval_reject(*, approval: Approval, actor, note: str = "") -> Approval:
    return _decide(approval, actor=actor, approve=False, note=note)


def _approval_for_use(*, project: Project, approval_id, scope: str, payload: dict) -> Approval:
    """The locked approval that allows this exact action, or ApprovalRefused. Writes nothing."""
    if not approval_id:
        raise ApprovalRefused(
            f"This action needs an approved {scope} approval; send its id as `approval`.",
            code="approval_missing",
        )
    try:
        approval_uuid = uuid.UUID(str(approval_id))
    except ValueError:
        raise ApprovalRefused("No approval with this id in this project.", code="approval_missing")
    approval = (
        Approval.objects.select_for_update()
        .select_related("project__workspace")
        .filter(project=project, pk=approval_uuid)
        .first()
    )
    if approval is None:
        raise ApprovalRefused("No approval with this id in this project.", code="approval_missing")
    if approval.status == ApprovalStatus.USED:
        raise ApprovalRefused("This approval was already used.", code="approval_used")
    if approval.status in (ApprovalStatus.PENDING, ApprovalStatus.REJECTED):
        raise ApprovalRefused(f"This approval is {approval.status}.", code="approval_not_approved")
    if approval.status == ApprovalStatus.EXPIRED or approval.expires_at <= timezone.now():
        raise ApprovalRefused("This approval has expired.", code="approval_expired")
    if approval.scope != scope:
        raise ApprovalRefused(
            f"This approval is for {approval.scope}, not {scope}.", code="approval_scope_mismatch"
        )
    if approval.payload_sha256 != payload_sha256(payload):
        raise ApprovalRefused(
            "This approval was given for a different action (the payload differs).",
            code="approval_payload_mismatch",
        )
    return approval


def _approval_use(approval: Approval, *, actor, used_for: str) -> None:
    approval.status = ApprovalStatus.USED
    approval.used_at = timezone.now()
    approval.used_by = actor if actor is not None and actor.is_authenticated else None
    approval.used_for = used_for[:200]
    _save(approval, actor, ["status", "used_at", "used_by", "used_for"])
    audit_record(
        action=AuditAction.APPROVAL,
        summary=f"Used {approval.scope} approval for {used_for}",
        actor=actor,
        workspace=approval.project.workspace,
        target=approval,
        data={"decision": "used", "scope": approval.scope, "used_for": used_for},
    )


@transaction.atomic
def approval_expire_stale(*, now=None) -> int:
    """Mark pending and approved approvals past their expiry as expired (beat job)."""
    now = now or timezone.now()
    stale = Approval.objects.select_for_update().filter(
        status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED], expires_at__lte=now
    )
    count = 0
    for approval in stale:
        approval.status = ApprovalStatus.EXPIRED
        _save(approval, None, ["status"])
        count += 1
    return count


def _guarded(
    *,
    project: Project,
    scope: str,
    payload: dict,
    approval_id,
    actor,
    perform: Callable[[Approval], Any],
    run: Run | None = None,
    step_id: str = "",
    step_name: str = "",
    existing: Callable[[], Any] | None = None,
) -> tuple[Any, bool]:
    """Run one approved side effect. Returns (result, replayed).

    With `run` and `step_id` the action is idempotent: a step that already succeeded
    returns its stored output and nothing happens again. The approval is checked before
    anything is written and marked used with the action's record; a remote failure leaves
    it unused and records a failed step.
    """
    error = ""
    with transaction.atomic():
        _lock_project(project)
        earlier = existing() if existing is not None else None
        if earlier is not None:
            return earlier, True
        step = None
        if run is not None and step_id:
            step = _locked_step(run, step_id)
            if step is not None and step.status == StepStatus.SUCCEEDED:
                return step.output, True
        approval = _approval_for_use(
            project=project, approval_id=approval_id, scope=scope, payload=payload
        )
        try:
            with transaction.atomic():
                result = perform(approval)
        except AdapterError as exc:
            error = redact_text(str(exc))
            result = None
        if run is not None and step_id:
            step_record(
                run=run,
                step_id=step_id,
                name=step_name or scope,
                status=StepStatus.FAILED if error else StepStatus.SUCCEEDED,
                actor=actor,
                input=payload,
                output=_jsonable(result) if not error else {},
                error=error,
            )
    if error:
        raise ProviderFailed(error)
    return result, False


def _jsonable(result) -> dict:
    if isinstance(result, dict):
        return result
    if hasattr(result, "pk"):
        return {"id": str(result.pk), "type": result._meta.label}
    return {"result": result}
