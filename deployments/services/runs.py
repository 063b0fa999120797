"""Runs, their steps (idempotent per step_id) and versioned write-once artifacts."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from common import indexing, limits
from common.exceptions import Conflict, ValidationFailed
from workspaces.models import Project

from ..models import (
    RUN_TERMINAL,
    Artifact,
    Run,
    RunStatus,
    RunStep,
    StepStatus,
)
from ..redaction import redact, redact_text
from ._common import (
    IllegalTransition,
    _check_same_project,
    _existing,
    _lock_project,
    _project_prefix,
    _save,
    _validate_slugish,
    _write_once,
)

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
            indexing.index_artifact_version(  # vectors enqueues it on commit
                artifact.pk, **{f: getattr(artifact, f) for f in indexing.ARTIFACT_FIELDS}
            )
    except BaseException:
        default_storage.delete(path)
        raise
    return artifact
