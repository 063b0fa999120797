"""Shipping-pipeline writes: the one place for idempotency, approvals, audit and redaction.

Rules every function here keeps:
- JSON and free text pass through `redaction.redact` / `redact_text` before storage.
- Side effects (push, merge, production deploy, infra provisioning) run only with an
  approved, unexpired, unused approval whose scope and payload hash match; using it
  marks it used in the same transaction as the record of the action. If the remote
  call fails, the approval stays unused and nothing is recorded but a failed step.
- Remote calls go through `adapters.github` or `adapters.provider`, never HTTP here.
- Serialisation points lock the project row (`_lock_project`), so versions are
  gapless and idempotency keys are checked without races.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework import status as http_status

from accounts.models import Membership, Role, role_at_least
from common import limits
from common.exceptions import Conflict, Forbidden, ServiceError, ValidationFailed
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Project

from . import sandbox
from .adapters import AdapterError, RepoRef
from .adapters import github as github_adapter
from .adapters import provider as provider_adapter
from .models import (
    DEPLOYMENT_TRANSITIONS,
    RUN_TERMINAL,
    Approval,
    ApprovalScope,
    ApprovalStatus,
    Artifact,
    Deployment,
    DeploymentStatus,
    Environment,
    InfraResource,
    Preview,
    PreviewVersion,
    Repo,
    RepoProvider,
    Run,
    RunStatus,
    RunStep,
    SandboxJob,
    SandboxJobStatus,
    SandboxJobType,
    StepStatus,
)
from .redaction import is_secret_key, looks_secret, redact, redact_text

logger = logging.getLogger(__name__)

SLUGISH = re.compile(r"^[a-z0-9][a-z0-9._\-]{0,63}$")
COMMIT_SHA = re.compile(r"^[0-9a-f]{7,64}$")
LEASE_GRACE = timedelta(seconds=60)


# --- errors ---------------------------------------------------------------------------


class ApprovalRefused(Forbidden):
    """The side effect was refused: no usable approval covers this exact action."""

    default_code = "approval_required"


class IllegalTransition(Conflict):
    default_code = "illegal_transition"


class ProviderFailed(ServiceError):
    status_code = http_status.HTTP_502_BAD_GATEWAY
    default_code = "provider_error"


# --- helpers -------------------------------------------------------------------------------


def canonical_json(payload: Any) -> bytes:
    """The bytes approvals hash: keys sorted, separators `,` and `:`, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def payload_sha256(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _lock_project(project: Project) -> Project:
    return Project.objects.select_for_update().get(pk=project.pk)


def _save(obj, actor, update_fields: list[str] | None = None, reason: str = "") -> None:
    obj._history_user = actor if actor is not None and actor.is_authenticated else None
    label = obj._meta.verbose_name
    obj._change_reason = reason or (
        f"{label} updated: {', '.join(update_fields)}" if update_fields else f"{label} saved"
    )
    if update_fields is not None:
        obj.save(update_fields=[*update_fields, "updated_at"])
    else:
        obj.save()


def _existing(model, project: Project, idempotency_key: str):
    if not idempotency_key:
        return None
    return model.objects.filter(project=project, idempotency_key=idempotency_key).first()


def _role(project: Project, user) -> str | None:
    return (
        Membership.objects.filter(team_id=project.workspace.team_id, user=user)
        .values_list("role", flat=True)
        .first()
    )


def _require_role(project: Project, user, minimum: str, message: str) -> None:
    if not role_at_least(_role(project, user), minimum):
        raise Forbidden(message)


def _write_once(path: str, data: bytes) -> None:
    """Store a blob at exactly `path`; an existing blob there is never replaced."""
    if default_storage.exists(path):
        raise Conflict("A blob already exists at this path; blobs are write-once.")
    name = default_storage.save(path, ContentFile(data))
    if name != path:  # the storage picked another name: someone wrote `path` meanwhile
        default_storage.delete(name)
        raise Conflict("A blob already exists at this path; blobs are write-once.")


def _project_prefix(project: Project) -> str:
    return f"workspaces/{project.workspace_id}/projects/{project.pk}"


def _check_same_project(project: Project, **objects) -> None:
    for field, obj in objects.items():
        if obj is not None and obj.project_id != project.pk:
            raise ValidationFailed("This belongs to another project.", field=field)


def _validate_slugish(value: str, field: str) -> None:
    if not SLUGISH.match(value or ""):
        raise ValidationFailed(
            "Use 1-64 lowercase letters, digits, '.', '-' or '_', starting with a letter or digit.",
            field=field,
        )


# --- repos -------------------------------------------------------------------------------


def _check_url(url: str, field: str) -> None:
    if not url:
        return
    parts = urlsplit(url)
    if parts.password or looks_secret(url):
        raise ValidationFailed(
            "Remove the credentials from this URL; Holdfast never stores secrets.", field=field
        )


@transaction.atomic
def repo_connect(
    *,
    project: Project,
    provider: str,
    owner: str,
    name: str,
    actor,
    default_branch: str = "main",
    html_url: str = "",
    clone_url: str = "",
    metadata: dict | None = None,
) -> Repo:
    if provider not in RepoProvider.values:
        raise ValidationFailed("Unknown repository provider.", field="provider")
    _check_url(html_url, "html_url")
    _check_url(clone_url, "clone_url")
    if provider == RepoProvider.GITHUB:
        html_url = html_url or f"https://github.com/{owner}/{name}"
        clone_url = clone_url or f"https://github.com/{owner}/{name}.git"
    if Repo.objects.filter(project=project, provider=provider, owner=owner, name=name).exists():
        raise Conflict("This repository is already connected to the project.", field="name")
    repo = Repo(
        project=project,
        provider=provider,
        owner=owner,
        name=name,
        default_branch=default_branch,
        html_url=html_url,
        clone_url=clone_url,
        metadata=redact(metadata or {}),
        created_by=actor,
    )
    repo.full_clean()
    _save(repo, actor)
    return repo


@transaction.atomic
def repo_update(*, repo: Repo, actor, **fields) -> Repo:
    changed = []
    for name in ("default_branch", "html_url", "clone_url", "metadata"):
        if name not in fields:
            continue
        value = redact(fields[name]) if name == "metadata" else fields[name]
        if name.endswith("_url"):
            _check_url(value, name)
        if getattr(repo, name) != value:
            setattr(repo, name, value)
            changed.append(name)
    if changed:
        repo.full_clean()
        _save(repo, actor, changed)
    return repo


# --- runs and steps ------------------------------------------------------------------------

RUN_TRANSITIONS = {
    RunStatus.QUEUED: {RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELLED},
    RunStatus.RUNNING: {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED},
}


@transaction.atomic
def run_create(
    *, project: Project, kind: str, actor, metadata: dict | None = None, idempotency_key: str = ""
) -> tuple[Run, bool]:
    """Start a run record; a repeated idempotency key returns the first run (created=False)."""
    _validate_slugish(kind, "kind")
    _lock_project(project)
    existing = _existing(Run, project, idempotency_key)
    if existing is not None:
        return existing, False
    run = Run(
        project=project,
        kind=kind,
        metadata=redact(metadata or {}),
        created_by=actor,
        idempotency_key=idempotency_key,
    )
    _save(run, actor)
    return run, True


@transaction.atomic
def run_transition(*, run: Run, status: str, actor) -> Run:
    run = Run.objects.select_for_update().get(pk=run.pk)
    if status == run.status:
        return run
    if status not in RUN_TRANSITIONS.get(run.status, set()):
        raise IllegalTransition(f"A run cannot go from {run.status} to {status}.", field="status")
    now = timezone.now()
    run.status = status
    fields = ["status"]
    if status == RunStatus.RUNNING:
        run.started_at = now
        fields.append("started_at")
    if status in RUN_TERMINAL:
        run.ended_at = now
        fields.append("ended_at")
    _save(run, actor, fields)
    return run


def _locked_step(run: Run, step_id: str) -> RunStep | None:
    return RunStep.objects.select_for_update().filter(run=run, step_id=step_id).first()


def _insert_step(step: RunStep, actor) -> bool:
    """Insert a new step row; False when a concurrent writer inserted it first."""
    try:
        with transaction.atomic():
            _save(step, actor)
        return True
    except IntegrityError:  # runstep_unique_step_id: the other writer won the race
        return False


def _apply_step(step: RunStep, *, status, name, input, output, error, now) -> list[str]:
    fields = ["status", "name"]
    previous = step.status if step.pk and not step._state.adding else None
    step.status = status
    step.name = name or step.name
    if input is not None:
        step.input = redact(input)
        fields.append("input")
    if previous != StepStatus.RUNNING:  # a new attempt starts
        step.attempts += 1
        step.started_at = now
        step.ended_at = None
        fields += ["attempts", "started_at", "ended_at"]
    if status in (StepStatus.SUCCEEDED, StepStatus.FAILED):
        step.output = redact(output or {})
        step.error = redact_text(error or "")[:10000]
        step.ended_at = now
        fields += ["output", "error", "ended_at"]
    return sorted(set(fields))


@transaction.atomic
def step_record(
    *,
    run: Run,
    step_id: str,
    status: str,
    actor=None,
    name: str = "",
    input: dict | None = None,
    output: dict | None = None,
    error: str = "",
) -> tuple[RunStep, bool]:
    """Record a step's state; idempotent per (run, step_id).

    Returns (step, replayed): a step that already succeeded is returned as stored and
    nothing is written (replayed=True). A failed step may be recorded again (a new attempt).
    """
    if status not in StepStatus.values:
        raise ValidationFailed("Unknown step status.", field="status")
    if not step_id:
        raise ValidationFailed("A step needs a step_id.", field="step_id")
    now = timezone.now()
    for _ in range(2):
        step = _locked_step(run, step_id)
        if step is not None and step.status == StepStatus.SUCCEEDED:
            return step, True
        if Run.objects.filter(pk=run.pk, status__in=RUN_TERMINAL).exists():
            raise Conflict("This run has ended; its steps can no longer change.", field="run")
        if step is None:
            step = RunStep(run=run, step_id=step_id, name=name or step_id)
            _apply_step(
                step, status=status, name=name, input=input, output=output, error=error, now=now
            )
            if _insert_step(step, actor):
                return step, False
            continue  # lost the insert race: lock the winner's row and decide again
        fields = _apply_step(
            step, status=status, name=name, input=input, output=output, error=error, now=now
        )
        _save(step, actor, fields)
        return step, False
    raise Conflict("The step changed concurrently; try again.")


def step_execute(
    *,
    run: Run,
    step_id: str,
    name: str,
    action: Callable[[], dict],
    input: dict | None = None,
    actor=None,
) -> tuple[RunStep, bool]:
    """Run `action` once per (run, step_id). Returns (step, executed).

    A step that already succeeded is returned without calling `action` again. The step
    row stays locked while `action` runs, so concurrent callers wait and then replay. A
    failing action records a failed step (redacted error) and re-raises.
    """
    failure: Exception | None = None
    with transaction.atomic():
        step = _locked_step(run, step_id)
        if step is None:
            step = RunStep(run=run, step_id=step_id, name=name)
            _apply_step(
                step, status=StepStatus.RUNNING, name=name, input=input, output=None,
                error="", now=timezone.now(),
            )  # fmt: skip
            if not _insert_step(step, actor):
                step = _locked_step(run, step_id)
        if step.status == StepStatus.SUCCEEDED:
            return step, False
        if step.status != StepStatus.RUNNING or step.attempts == 0:
            fields = _apply_step(
                step, status=StepStatus.RUNNING, name=name, input=input, output=None,
                error="", now=timezone.now(),
            )  # fmt: skip
            _save(step, actor, fields)
        try:
            with transaction.atomic():
                output = action() or {}
        except Exception as exc:  # recorded on the step, then re-raised below
            failure = exc
            fields = _apply_step(
                step, status=StepStatus.FAILED, name=name, input=None, output={},
                error=f"{type(exc).__name__}: {exc}", now=timezone.now(),
            )  # fmt: skip
        else:
            fields = _apply_step(
                step, status=StepStatus.SUCCEEDED, name=name, input=None, output=output,
                error="", now=timezone.now(),
            )  # fmt: skip
        _save(step, actor, fields)
    if failure is not None:
        raise failure
    return step, True


# --- artifacts -----------------------------------------------------------------------------


@transaction.atomic
def artifact_create(
    *,
    project: Project,
    kind: str,
    logical_key: str,
    content: bytes,
    actor=None,
    content_type: str = "application/octet-stream",
    run: Run | None = None,
    metadata: dict | None = None,
) -> Artifact:
    """Store the next version of (project, kind, logical_key): gapless, write-once."""
    _validate_slugish(kind, "kind")
    if not logical_key or len(logical_key) > 255 or "\x00" in logical_key:
        raise ValidationFailed("A logical key is 1-255 characters.", field="logical_key")
    _check_same_project(project, run=run)
    artifact_id = uuid.uuid4()
    path = f"{_project_prefix(project)}/artifacts/{artifact_id}"
    _write_once(path, content)
    try:
        with transaction.atomic():
            _lock_project(project)  # serialises version allocation for the project
            limits.enforce(
                "storage_bytes", team=project.workspace.team, project=project, amount=len(content)
            )
            latest = Artifact.objects.filter(
                project=project, kind=kind, logical_key=logical_key
            ).aggregate(latest=Max("version"))["latest"]
            artifact = Artifact(
                id=artifact_id,
                project=project,
                run=run,
                kind=kind,
                logical_key=logical_key,
                version=(latest or 0) + 1,
                blob_path=path,
                content_type=content_type or "application/octet-stream",
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
                metadata=redact(metadata or {}),
                created_by=actor,
            )
            artifact.save(force_insert=True)
    except BaseException:
        default_storage.delete(path)
        raise
    return artifact


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
    return approval, True


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


# --- repos: push and merge ---------------------------------------------------------------


def repo_push(
    *,
    repo: Repo,
    branch: str,
    files: dict[str, str],
    message: str,
    actor,
    approval_id,
    payload: dict,
    run: Run | None = None,
    step_id: str = "",
) -> tuple[dict, bool]:
    if repo.provider != RepoProvider.GITHUB:
        raise ValidationFailed("Only GitHub repositories can be pushed to.", field="repo")
    if not files:
        raise ValidationFailed("Push at least one file.", field="files")
    for path, content in files.items():
        if looks_secret(content) or is_secret_key(path.rsplit("/", 1)[-1]):
            raise ValidationFailed(
                f"{path} looks like it carries a secret; Holdfast does not push secrets.",
                field="files",
            )
    _check_same_project(repo.project, run=run)

    def perform(approval):
        result = github_adapter.get_adapter().push(
            repo=RepoRef(repo.owner, repo.name),
            branch=branch,
            base_branch=repo.default_branch,
            files=files,
            message=message,
        )
        result = redact(result)
        _approval_use(approval, actor=actor, used_for=f"push {branch} to {repo}")
        return result

    return _guarded(
        project=repo.project,
        scope=ApprovalScope.REPO_PUSH,
        payload=payload,
        approval_id=approval_id,
        actor=actor,
        perform=perform,
        run=run,
        step_id=step_id,
        step_name=f"push {branch}",
    )


def repo_merge(
    *,
    repo: Repo,
    head: str,
    actor,
    approval_id,
    payload: dict,
    base: str = "",
    message: str = "",
    run: Run | None = None,
    step_id: str = "",
) -> tuple[dict, bool]:
    if repo.provider != RepoProvider.GITHUB:
        raise ValidationFailed("Only GitHub repositories can be merged.", field="repo")
    base = base or repo.default_branch
    _check_same_project(repo.project, run=run)

    def perform(approval):
        result = github_adapter.get_adapter().merge(
            repo=RepoRef(repo.owner, repo.name),
            head=head,
            base=base,
            message=message or f"Merge {head} into {base}",
        )
        result = redact(result)
        _approval_use(approval, actor=actor, used_for=f"merge {head} into {base} of {repo}")
        return result

    return _guarded(
        project=repo.project,
        scope=ApprovalScope.REPO_MERGE,
        payload=payload,
        approval_id=approval_id,
        actor=actor,
        perform=perform,
        run=run,
        step_id=step_id,
        step_name=f"merge {head}",
    )


# --- deployments ---------------------------------------------------------------------------


def deployment_create(
    *,
    project: Project,
    environment: str,
    commit_sha: str,
    actor,
    repo: Repo | None = None,
    run: Run | None = None,
    ref: str = "",
    metadata: dict | None = None,
    approval_id=None,
    payload: dict | None = None,
    idempotency_key: str = "",
) -> tuple[Deployment, bool]:
    """Ask the deploy provider for a deployment and record it. Production needs an approval
    of scope deploy.production for this exact payload. Returns (deployment, created)."""
    if environment not in Environment.values:
        raise ValidationFailed("Choose preview or production.", field="environment")
    if not COMMIT_SHA.match(commit_sha or ""):
        raise ValidationFailed("A commit sha is 7-64 lowercase hex digits.", field="commit_sha")
    _check_same_project(project, repo=repo, run=run)
    error = ""
    with transaction.atomic():
        _lock_project(project)
        existing = _existing(Deployment, project, idempotency_key)
        if existing is not None:
            return existing, False
        approval = None
        if environment == Environment.PRODUCTION:
            approval = _approval_for_use(
                project=project,
                approval_id=approval_id,
                scope=ApprovalScope.DEPLOY_PRODUCTION,
                payload=payload if payload is not None else {},
            )
        limits.enforce("deploys_per_day", team=project.workspace.team, project=project)
        adapter = provider_adapter.get_adapter()
        try:
            remote = adapter.create_deployment(
                project_name=project.slug,
                environment=environment,
                commit_sha=commit_sha,
                repo=RepoRef(repo.owner, repo.name) if repo is not None else None,
                ref=ref or (repo.default_branch if repo is not None else ""),
            )
        except AdapterError as exc:
            error = redact_text(str(exc))
        else:
            now = timezone.now()
            status = remote.status if remote.status in DeploymentStatus.values else "queued"
            terminal = not DEPLOYMENT_TRANSITIONS[status]
            deployment = Deployment(
                project=project,
                run=run,
                repo=repo,
                environment=environment,
                provider=adapter.name,
                external_project_id=remote.external_project_id,
                external_deployment_id=remote.external_deployment_id,
                url=remote.url,
                status=status,
                commit_sha=commit_sha,
                started_at=now if status != DeploymentStatus.QUEUED else None,
                ended_at=now if terminal else None,
                error=redact_text(remote.error),
                metadata=redact({**(metadata or {}), "ref": ref} if ref else (metadata or {})),
                approval=approval,
                created_by=actor,
                idempotency_key=idempotency_key,
            )
            _save(deployment, actor)
            if approval is not None:
                _approval_use(approval, actor=actor, used_for=f"deployment {deployment.pk}")
            return deployment, True
    raise ProviderFailed(error)


@transaction.atomic
def deployment_transition(*, deployment: Deployment, status: str, actor=None, error: str = ""):
    """Move a deployment forward through its state machine; anything else is refused."""
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if status not in DeploymentStatus.values:
        raise ValidationFailed("Unknown deployment status.", field="status")
    allowed = DEPLOYMENT_TRANSITIONS[deployment.status]
    if status not in allowed:
        if not allowed:
            detail = f"{deployment.status} is final"
        else:
            detail = "allowed next: " + ", ".join(sorted(allowed))
        raise IllegalTransition(
            f"A deployment cannot go from {deployment.status} to {status} ({detail}).",
            field="status",
        )
    now = timezone.now()
    fields = ["status"]
    deployment.status = status
    if deployment.started_at is None:
        deployment.started_at = now
        fields.append("started_at")
    if not DEPLOYMENT_TRANSITIONS[status]:
        deployment.ended_at = now
        fields.append("ended_at")
    if error:
        deployment.error = redact_text(error)[:10000]
        fields.append("error")
    _save(deployment, actor, fields)
    return deployment


def deployment_refresh(*, deployment: Deployment, actor=None) -> Deployment:
    """Ask the provider for the current status and move forward when it changed."""
    if not DEPLOYMENT_TRANSITIONS[deployment.status]:
        return deployment
    try:
        remote = provider_adapter.get_adapter().get_deployment(
            external_deployment_id=deployment.external_deployment_id
        )
    except AdapterError as exc:
        raise ProviderFailed(redact_text(str(exc)))
    if remote.status == deployment.status or remote.status not in DeploymentStatus.values:
        return deployment
    if remote.status not in DEPLOYMENT_TRANSITIONS[deployment.status]:
        logger.warning(
            "provider reported %s after %s for deployment %s; ignored",
            remote.status,
            deployment.status,
            deployment.pk,
        )
        return deployment
    return deployment_transition(
        deployment=deployment, status=remote.status, actor=actor, error=remote.error
    )


def deployment_cancel(*, deployment: Deployment, actor) -> Deployment:
    if DeploymentStatus.CANCELLED not in DEPLOYMENT_TRANSITIONS[deployment.status]:
        raise IllegalTransition(
            f"A {deployment.status} deployment cannot be cancelled.", field="status"
        )
    try:
        provider_adapter.get_adapter().cancel_deployment(
            external_deployment_id=deployment.external_deployment_id
        )
    except AdapterError as exc:
        raise ProviderFailed(redact_text(str(exc)))
    return deployment_transition(
        deployment=deployment, status=DeploymentStatus.CANCELLED, actor=actor
    )


# --- infrastructure ----------------------------------------------------------------------


def infra_provision(
    *,
    project: Project,
    resource_type: str,
    actor,
    approval_id,
    payload: dict,
    name: str = "",
    region: str = "",
    config: dict | None = None,
    run: Run | None = None,
    idempotency_key: str = "",
) -> tuple[InfraResource, bool]:
    """Provision a resource through the deploy provider; needs an infra.provision approval."""
    _validate_slugish(resource_type, "resource_type")
    _check_same_project(project, run=run)
    config = config or {}
    if redact(config) != config:
        raise ValidationFailed(
            "The config carries what looks like a secret; Holdfast never stores secrets.",
            field="config",
        )

    def perform(approval):
        adapter = provider_adapter.get_adapter()
        remote = adapter.provision_resource(
            resource_type=resource_type, name=name, region=region, config=config
        )
        resource = InfraResource(
            project=project,
            run=run,
            provider=adapter.name,
            resource_type=resource_type,
            name=name,
            external_id=remote.external_id,
            region=remote.region or region,
            metadata=redact({"config": config, **remote.metadata}),
            approval=approval,
            created_by=actor,
            idempotency_key=idempotency_key,
        )
        resource.full_clean(exclude=["approval", "run", "project", "created_by"])
        _save(resource, actor)
        _approval_use(approval, actor=actor, used_for=f"infra resource {resource.pk}")
        return resource

    resource, replayed = _guarded(
        project=project,
        scope=ApprovalScope.INFRA_PROVISION,
        payload=payload,
        approval_id=approval_id,
        actor=actor,
        perform=perform,
        existing=lambda: _existing(InfraResource, project, idempotency_key),
    )
    return resource, not replayed


# --- previews ------------------------------------------------------------------------------


@transaction.atomic
def preview_create(*, project: Project, slug: str, actor, visibility: str = "team") -> Preview:
    if Preview.objects.filter(slug=slug).exists():
        raise Conflict("This preview slug is taken.", field="slug")
    preview = Preview(
        slug=slug,
        workspace_id=project.workspace_id,
        project=project,
        visibility=visibility,
        created_by=actor,
    )
    preview.full_clean()
    _save(preview, actor)
    return preview


@transaction.atomic
def preview_update(*, preview: Preview, actor, visibility: str) -> Preview:
    if preview.visibility != visibility:
        preview.visibility = visibility
        preview.full_clean()
        _save(preview, actor, ["visibility"])
    return preview


def preview_blob_path(preview: Preview, version: int) -> str:
    return f"workspaces/{preview.workspace_id}/previews/{preview.pk}/{version}.json"


@transaction.atomic
def preview_version_create(
    *, preview: Preview, content: Any, actor, activate: bool = True
) -> PreviewVersion:
    """Append an immutable version (blob + row); by default it becomes the active one."""
    data = json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
    preview = Preview.objects.select_for_update().get(pk=preview.pk)
    latest = PreviewVersion.objects.filter(preview=preview).aggregate(v=Max("version"))["v"]
    number = (latest or 0) + 1
    path = preview_blob_path(preview, number)
    if default_storage.exists(path):
        # No row owns this blob (we hold the preview lock and version `number` has no row):
        # it is the leftover of an attempt whose transaction rolled back.
        default_storage.delete(path)
    _write_once(path, data)
    try:
        with transaction.atomic():
            version = PreviewVersion(
                preview=preview,
                version=number,
                blob_path=path,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                created_by=actor,
            )
            version.save(force_insert=True)
            if activate:
                preview.active_version = number
                _save(preview, actor, ["active_version"])
    except BaseException:
        default_storage.delete(path)
        raise
    return version


@transaction.atomic
def preview_rollback(*, preview: Preview, version: int, actor) -> Preview:
    """Point the preview at an earlier (or later) version. Only the pointer changes."""
    preview = Preview.objects.select_for_update().select_related("workspace").get(pk=preview.pk)
    _require_role(
        preview.project, actor, Role.ADMIN, "Only a workspace admin or owner can roll back."
    )
    if not PreviewVersion.objects.filter(preview=preview, version=version).exists():
        raise ValidationFailed("This preview has no such version.", field="version")
    previous = preview.active_version
    if previous == version:
        return preview
    preview.active_version = version
    _save(preview, actor, ["active_version"])
    audit_record(
        action=AuditAction.ROLLBACK,
        summary=f"Preview {preview.slug} rolled back from v{previous} to v{version}",
        actor=actor,
        workspace=preview.workspace,
        target=preview,
        data={"from_version": previous, "to_version": version},
    )
    return preview


# --- sandbox jobs --------------------------------------------------------------------------


def _validate_command(command: list[str]) -> None:
    if not isinstance(command, list) or not command or len(command) > 200:
        raise ValidationFailed("A command is a list of 1-200 arguments.", field="command")
    for arg in command:
        if not isinstance(arg, str) or len(arg) > 8192 or "\x00" in arg:
            raise ValidationFailed("Each argument is a string of at most 8192 characters.",
                                   field="command")  # fmt: skip
        if looks_secret(arg):
            raise ValidationFailed(
                "The command contains what looks like a secret; Holdfast never stores secrets.",
                field="command",
            )


def _validate_env(env: dict) -> None:
    if not isinstance(env, dict) or len(env) > 100:
        raise ValidationFailed("env is an object of at most 100 variables.", field="env")
    for key, value in env.items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", key) or not isinstance(value, str):
            raise ValidationFailed("Variable names are identifiers; values are strings.",
                                   field="env")  # fmt: skip
        if is_secret_key(key) or looks_secret(value):
            raise ValidationFailed(
                f"{key} looks like a secret; sandbox jobs get no secrets.", field="env"
            )


@transaction.atomic
def sandbox_job_create(
    *,
    project: Project,
    job_type: str,
    actor,
    command: list[str] | None = None,
    run: Run | None = None,
    step: RunStep | None = None,
    repo: Repo | None = None,
    timeout_seconds: int | None = None,
    env: dict | None = None,
    metadata: dict | None = None,
    idempotency_key: str = "",
    retry_of: SandboxJob | None = None,
) -> tuple[SandboxJob, bool]:
    """Queue a sandbox job; the worker runs it after this transaction commits."""
    if job_type not in SandboxJobType.values:
        raise ValidationFailed("Unknown job type.", field="job_type")
    _check_same_project(project, run=run, repo=repo)
    if step is not None and (run is None or step.run_id != run.pk):
        raise ValidationFailed("This step is not part of the given run.", field="step")
    if not command and job_type == SandboxJobType.REPO_CLONE and repo is not None:
        if not repo.clone_url:
            raise ValidationFailed("This repository has no clone URL.", field="repo")
        command = ["git", "clone", "--depth", "1", "--branch", repo.default_branch,
                   repo.clone_url, "repo"]  # fmt: skip
    _validate_command(command or [])
    _validate_env(env or {})
    limit = settings.SANDBOX_TIMEOUT_SECONDS
    timeout = timeout_seconds or limit
    if not 1 <= timeout <= limit:
        raise ValidationFailed(f"Choose 1 to {limit} seconds.", field="timeout_seconds")
    _lock_project(project)
    existing = _existing(SandboxJob, project, idempotency_key)
    if existing is not None:
        return existing, False
    job = SandboxJob(
        project=project,
        run=run,
        step=step,
        repo=repo,
        retry_of=retry_of,
        job_type=job_type,
        command=command,
        env=env or {},
        timeout_seconds=timeout,
        metadata=redact(metadata or {}),
        requested_by=actor,
        idempotency_key=idempotency_key,
    )
    _save(job, actor)
    _enqueue(job.pk)
    return job, True


def _enqueue(job_id) -> None:
    from .tasks import run_sandbox_job

    transaction.on_commit(lambda: run_sandbox_job.delay(str(job_id)))


def sandbox_job_retry(*, job: SandboxJob, actor) -> SandboxJob:
    """Queue a fresh job with the same command; the failed one stays as it ended."""
    if job.status != SandboxJobStatus.FAILED:
        raise Conflict("Only a failed job can be retried.", field="status")
    new, _ = sandbox_job_create(
        project=job.project,
        job_type=job.job_type,
        actor=actor,
        command=job.command,
        run=job.run,
        step=job.step,
        repo=job.repo,
        timeout_seconds=job.timeout_seconds,
        env=job.env,
        metadata={**job.metadata, "retry_of": str(job.pk)},
        retry_of=job,
    )
    return new


def _claim(job_id) -> tuple[SandboxJob | None, float | None]:
    """Mark the job running under a lease. Returns (job, busy_for): job None when it is
    missing; busy_for > 0 when another worker holds a live lease on it."""
    with transaction.atomic():
        job = SandboxJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None, None
        now = timezone.now()
        if job.status in (SandboxJobStatus.SUCCEEDED, SandboxJobStatus.FAILED):
            return job, None
        if job.status == SandboxJobStatus.RUNNING and job.lease_expires_at > now:
            return job, (job.lease_expires_at - now).total_seconds() + 1
        job.status = SandboxJobStatus.RUNNING
        job.attempts += 1
        job.started_at = now
        job.lease_expires_at = now + timedelta(seconds=job.timeout_seconds) + LEASE_GRACE
        _save(job, None, ["status", "attempts", "started_at", "lease_expires_at"])
        return job, 0.0


def sandbox_job_execute(*, job_id) -> tuple[SandboxJob | None, float | None]:
    """Run a queued job once (the Celery task calls this). Idempotent: a finished job is
    returned untouched; a job whose worker died (lease expired) is claimed again.
    Returns (job, retry_in): retry_in is set when another worker holds the job."""
    job, busy_for = _claim(job_id)
    if job is None or busy_for is None or busy_for > 0:
        return job, busy_for
    attempt = job.attempts
    result = sandbox.execute(command=job.command, env=job.env, timeout=job.timeout_seconds)
    text = redact_text(result.output)
    limit = settings.SANDBOX_TRANSCRIPT_LIMIT
    with transaction.atomic():
        job = SandboxJob.objects.select_for_update().select_related("project").get(pk=job.pk)
        if job.status != SandboxJobStatus.RUNNING or job.attempts != attempt:
            return job, None  # the reaper or another worker decided meanwhile
        job.transcript_bytes = len(text.encode("utf-8"))
        job.transcript_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if len(text) > limit:
            path = f"{_project_prefix(job.project)}/sandbox/{job.pk}/transcript-{attempt}.txt"
            if default_storage.exists(path):
                default_storage.delete(path)  # leftover of this very attempt, never referenced
            _write_once(path, text.encode("utf-8"))
            half = limit // 2
            omitted = len(text) - 2 * half
            job.transcript = (
                text[:half]
                + f"\n[... {omitted} characters omitted; the full transcript is stored ...]\n"
                + text[-half:]
            )
            job.transcript_truncated = True
            job.transcript_path = path
        else:
            job.transcript, job.transcript_truncated, job.transcript_path = text, False, ""
        ok = result.exit_code == 0 and not result.timed_out
        job.status = SandboxJobStatus.SUCCEEDED if ok else SandboxJobStatus.FAILED
        job.exit_code = result.exit_code
        job.ended_at = timezone.now()
        job.lease_expires_at = None
        job.metadata = redact(
            {
                **job.metadata,
                "timed_out": result.timed_out,
                "duration_seconds": result.duration_seconds,
                "output_bytes": result.output_bytes,
            }
        )
        _save(
            job,
            None,
            [
                "transcript",
                "transcript_truncated",
                "transcript_path",
                "transcript_bytes",
                "transcript_sha256",
                "status",
                "exit_code",
                "ended_at",
                "lease_expires_at",
                "metadata",
            ],
        )
    return job, None


def sandbox_reap(*, now=None, requeue_after: timedelta = timedelta(minutes=10)) -> dict:
    """Beat job: fail running jobs whose lease expired (their worker died) and re-send
    queued jobs that no worker picked up (the message was lost)."""
    now = now or timezone.now()
    failed = 0
    with transaction.atomic():
        stale = SandboxJob.objects.select_for_update().filter(
            status=SandboxJobStatus.RUNNING, lease_expires_at__lt=now
        )
        for job in stale:
            job.status = SandboxJobStatus.FAILED
            job.ended_at = now
            job.lease_expires_at = None
            job.metadata = {**job.metadata, "reaped": True, "reason": "worker lost"}
            job.transcript += "\n[worker lost: the job was marked failed]\n"
            _save(job, None, ["status", "ended_at", "lease_expires_at", "metadata", "transcript"])
            failed += 1
    requeued = 0
    with transaction.atomic():
        lost = SandboxJob.objects.filter(
            status=SandboxJobStatus.QUEUED, created_at__lt=now - requeue_after
        ).values_list("pk", flat=True)
        for job_id in lost:
            _enqueue(job_id)
            requeued += 1
    return {"failed": failed, "requeued": requeued}
