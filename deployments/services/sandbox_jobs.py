"""Sandbox jobs: queue, retry, claim under a lease, execute once, reap."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from common import addresses
from common.exceptions import Conflict, ValidationFailed
from workspaces.models import Project

from .. import sandbox
from ..models import (
    Repo,
    Run,
    RunStep,
    SandboxJob,
    SandboxJobStatus,
    SandboxJobType,
)
from ..redaction import is_secret_key, looks_secret, redact, redact_text
from ._common import (
    _check_same_project,
    _existing,
    _lock_project,
    _project_prefix,
    _save,
    _write_once,
)

LEASE_GRACE = timedelta(seconds=60)

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
    if job_type == SandboxJobType.REPO_CLONE and repo is not None:
        if not repo.clone_url:
            raise ValidationFailed("This repository has no clone URL.", field="repo")
        if not repo.clone_url.startswith("file://"):
            problem = clone_url_problem(repo.clone_url, resolve=False)
            if problem:
                raise ValidationFailed(problem, field="repo")
            # The worker clones it first, in a networked sandbox of its own; the command
            # then runs with no network and the checkout in `repo/`.
            command = command or ["git", "-C", "repo", "log", "-1", "--format=%H %s"]
        elif not command:
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
    from ..tasks import run_sandbox_job

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
    try:
        result = sandbox.execute(
            command=job.command, env=job.env, timeout=job.timeout_seconds, access=_access(job)
        )
    except sandbox.IsolationUnavailable as exc:
        return _refuse(job, attempt, str(exc)), None
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
        job.metadata = {**job.metadata, "isolation": result.isolation}
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


def clone_url_problem(url: str, *, resolve: bool = True) -> str | None:
    """None when the worker may clone from `url` (an https host on the public internet,
    or one listed in SANDBOX_CLONE_ALLOWED_HOSTS), else why not. Queuing a job checks
    the URL as written; the worker resolves the host right before it connects."""
    return clone_url_addresses(url, resolve=resolve)[0]


def clone_url_addresses(url: str, *, resolve: bool = True) -> tuple[str | None, list[str]]:
    """(why not or None, the checked addresses the clone is pinned to)."""
    return addresses.url_addresses(
        url,
        allowed_hosts=settings.SANDBOX_CLONE_ALLOWED_HOSTS,
        setting="SANDBOX_CLONE_ALLOWED_HOSTS",
        what="A clone URL",
        resolve=resolve,
    )


def _access(job: SandboxJob) -> sandbox.Access:
    """No job command ever has the network. A clone of a local (`file://`) repository sees
    it read-only; a remote one is fetched first by a fixed `git clone` in a networked
    sandbox of its own (`Access.fetch`), the URL checked again now (DNS may change)."""
    if job.job_type != SandboxJobType.REPO_CLONE or job.repo is None:
        return sandbox.Access()
    url = job.repo.clone_url or ""
    if url.startswith("file://"):
        path = os.path.realpath(url.removeprefix("file://"))
        return sandbox.Access(read_only_paths=(path,) if os.path.isdir(path) else ())
    problem, found = clone_url_addresses(url)
    if problem:
        raise sandbox.IsolationUnavailable(f"the clone was refused: {problem}")
    parts = urlsplit(url)
    host, port = (parts.hostname or "").lower(), parts.port or 443
    pinned = tuple(f"{host}:{port}:{f'[{a}]' if ':' in a else a}" for a in found)
    return sandbox.Access(fetch=(url, job.repo.default_branch), pinned=pinned)


def _refuse(job: SandboxJob, attempt: int, reason: str) -> SandboxJob:
    """The worker cannot isolate the job: it fails, saying why, and nothing ran."""
    with transaction.atomic():
        job = SandboxJob.objects.select_for_update().get(pk=job.pk)
        if job.status != SandboxJobStatus.RUNNING or job.attempts != attempt:
            return job
        job.status = SandboxJobStatus.FAILED
        job.ended_at = timezone.now()
        job.lease_expires_at = None
        job.transcript = f"[refused: {reason}]\n"
        job.metadata = {**job.metadata, "refused": reason, "isolation": "unavailable"}
        _save(job, None, ["status", "ended_at", "lease_expires_at", "transcript", "metadata"])
    return job


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
