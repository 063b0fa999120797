"""Agent runs (seed 001 agent_runs): a queue with priority, retry with backoff, cancel and
status. A finished run is kept in the database and committed to the repository as
`.draftforge/agent-runs/<timestamp>_<agent>_<trigger>.json`, valid against its schema.

The LLM agent spends the workspace's AI credits through `common.credits` (billing fills the
port) before it calls the model; out of credits, the run fails at once without a call.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import CapabilityName
from accounts.selectors import capability_require
from common import credits
from common.exceptions import Conflict, Forbidden, PaymentRequired, ValidationFailed
from workspaces.models import Project

from .. import agents
from .. import draftforge as df
from ..git import GitError, backend_for, commit_with_retry
from ..sync_models import AGENT_RUN_TERMINAL, AgentRun, AgentRunStatus
from ._common import _save
from .repo_sync import _remember_own, source_repo, state_for

logger = logging.getLogger(__name__)

BACKOFF_SECONDS = 30
TRIGGERS = ("commit", "pr", "manual")


def _agent_config(config: dict, agent: str) -> dict:
    return ((config or {}).get("agents") or {}).get(agent) or {}


def _check_agent(agent: str, config: dict) -> None:
    if agent in agents.LOCAL_AGENTS:
        return
    conf = _agent_config(config, agent)
    if not conf.get("model"):
        raise ValidationFailed(
            f"Unknown agent {agent!r}: the built-in agents are {', '.join(agents.LOCAL_AGENTS)}; "
            "an LLM agent needs a model in config.yml.",
            field="agent",
        )


def _check_use_ai(user) -> None:
    """An LLM agent spends AI credits: a user whose `use_ai` capability an operator revoked
    cannot queue one (403) nor have one run. Triggered runs (no user) are the workspace's."""
    if getattr(user, "is_authenticated", False):
        capability_require(user=user, capability=CapabilityName.USE_AI, what="AI agent runs")


def _dispatch() -> None:
    from ..sync_tasks import agent_runs_tick

    transaction.on_commit(lambda: agent_runs_tick.delay())


@transaction.atomic
def agent_run_enqueue(
    *,
    project: Project,
    agent: str,
    actor=None,
    trigger: str = "manual",
    trigger_ref: str = "",
    priority: int = 0,
    max_attempts: int = 3,
    idempotency_key: str = "",
) -> tuple[AgentRun, bool]:
    if trigger not in TRIGGERS:
        raise ValidationFailed(f"A trigger is one of {', '.join(TRIGGERS)}.", field="trigger")
    if idempotency_key:
        existing = AgentRun.objects.filter(project=project, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    repo = source_repo(project=project)
    config = state_for(repo=repo).settings if repo else {}
    _check_agent(agent, config)
    if agent not in agents.LOCAL_AGENTS:
        _check_use_ai(actor)
    run = AgentRun(
        project=project,
        repo=repo,
        agent=agent,
        trigger=trigger,
        trigger_ref=str(trigger_ref)[:100],
        priority=priority,
        max_attempts=max(1, min(10, max_attempts)),
        idempotency_key=idempotency_key,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    run.full_clean()
    _save(run, actor, reason="agent run queued")
    _dispatch()
    return run, True


def agent_runs_for_trigger(*, project, repo, trigger: str, ref: str, config: dict) -> list:
    """Queue every enabled agent whose config.yml trigger is `trigger` (once per ref)."""
    queued = []
    for agent, conf in ((config or {}).get("agents") or {}).items():
        if not isinstance(conf, dict) or not conf.get("enabled") or conf.get("trigger") != trigger:
            continue
        if agent not in agents.LOCAL_AGENTS and not django_settings.AGENT_LLM_API_URL:
            continue  # an LLM agent with no endpoint configured is not queued to fail
        run, created = agent_run_enqueue(
            project=project,
            agent=agent,
            trigger=trigger,
            trigger_ref=ref[:40],
            idempotency_key=f"{trigger}:{ref}:{agent}"[:128],
        )
        if created:
            queued.append(run)
    return queued


@transaction.atomic
def agent_run_cancel(*, run: AgentRun, actor) -> AgentRun:
    run = AgentRun.objects.select_for_update().get(pk=run.pk)
    if run.status != AgentRunStatus.QUEUED:
        raise Conflict(f"Only a queued run can be cancelled; this one is {run.status}.")
    run.status, run.finished_at = AgentRunStatus.CANCELLED, timezone.now()
    _save(run, actor, ["status", "finished_at"], reason="agent run cancelled")
    return run


def _claim(run_id=None) -> AgentRun | None:
    """Take the highest-priority due queued run (or `run_id` if it is due) and mark it
    running. `skip_locked` lets several workers share the queue on PostgreSQL."""
    now = timezone.now()
    with transaction.atomic():
        due = AgentRun.objects.filter(status=AgentRunStatus.QUEUED).filter(
            Q(run_after__isnull=True) | Q(run_after__lte=now)
        )
        if run_id is not None:
            due = due.filter(pk=run_id)
        run = due.order_by("-priority", "created_at").select_for_update(skip_locked=True).first()
        if run is None:
            return None
        run.status, run.attempts, run.started_at = AgentRunStatus.RUNNING, run.attempts + 1, now
        _save(run, None, ["status", "attempts", "started_at"], reason="agent run started")
        return run


def agent_runs_process(*, limit: int = 20) -> int:
    done = 0
    while done < limit:
        run = _claim()
        if run is None:
            break
        _execute(run)
        done += 1
    return done


def agent_run_execute(*, run_id) -> AgentRun | None:
    run = _claim(run_id)
    if run is None:
        return AgentRun.objects.filter(pk=run_id).first()
    return _execute(run)


def _manuscript(repo) -> tuple[dict[str, str], str, dict]:
    backend = backend_for(repo)
    head = backend.head(repo.default_branch)
    if head is None:
        raise agents.AgentFailed("The repository has no commits.")
    config = state_for(repo=repo).settings or {}
    dirs = df.directories(config)
    files = {
        path: backend.blob(sha).decode("utf-8", "replace")
        for path, sha in backend.tree(head).items()
        if df.text_kind(path, dirs)
    }
    return files, head, config


def _run_agent(run: AgentRun) -> dict:
    if run.repo is None:
        raise agents.AgentFailed("The project has no connected repository to read.")
    files, head, config = _manuscript(run.repo)
    started = time.monotonic()
    model = None
    if run.agent in agents.LOCAL:
        summary, issues, stats = agents.LOCAL[run.agent](files)
    else:
        conf = _agent_config(config, run.agent)
        model = conf.get("model") or ""
        _check_use_ai(run.created_by)  # revoked since it was queued: fails, nothing spent
        words = sum(len(t.split()) for t in files.values())
        estimate = max(1, math.ceil(words * 1.4 / 1000))  # ~1.4 tokens a word; 1 credit/1k
        credits.spend(
            workspace=run.project.workspace,
            amount=estimate,
            idempotency_key=f"agent-run:{run.pk}:{run.attempts}",
            note=f"{run.agent} agent run {run.pk}",
        )
        client = agents.OpenAiCompatibleClient(
            api_url=django_settings.AGENT_LLM_API_URL, api_key=django_settings.AGENT_LLM_API_KEY
        )
        summary, issues, stats, _ = agents.llm_agent(
            client, agent=run.agent, model=model, files=files
        )
        stats["cost_cents"] = estimate
    stats["duration_seconds"] = round(time.monotonic() - started, 3)
    now = timezone.now()
    doc = {
        "run_id": f"hf-run-{run.pk}",
        "agent_type": run.agent,
        "trigger": run.trigger,
        "trigger_ref": run.trigger_ref or head,
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": model,
        "status": "completed",
        "summary": summary,
        "issues": issues,
        "stats": {
            k: v
            for k, v in stats.items()
            if k
            in ("files_analyzed", "total_words", "tokens_used", "cost_cents", "duration_seconds")
        },
    }
    df.validate("agent-run", doc, path=df.AGENT_RUNS + "<run>.json")
    doc["_extra"] = {k: v for k, v in stats.items() if k not in doc["stats"]}
    return doc


def result_path(run: AgentRun, doc: dict) -> str:
    stamp = doc["timestamp"].replace("T", "_").replace(":", "-").rstrip("Z")
    ref = (run.trigger_ref or "")[:12]
    trigger = f"{run.trigger}-{ref}" if ref else run.trigger
    return f"{df.AGENT_RUNS}{stamp}_{run.agent}_{trigger}.json"


def _commit_result(run: AgentRun, doc: dict) -> tuple[str, str]:
    path = result_path(run, doc)
    backend = backend_for(run.repo)
    body = df.dump_json({k: v for k, v in doc.items() if not k.startswith("_")})
    sha, parent = commit_with_retry(
        backend,
        branch=run.repo.default_branch,
        build=lambda head: {path: body},
        message=f"Add agent run {run.agent} ({run.trigger}) [holdfast]",
        author=django_settings.REPO_COMMIT_AUTHOR,
    )
    with transaction.atomic():
        from ..sync_models import RepoSyncState

        state = RepoSyncState.objects.select_for_update().get(repo=run.repo)
        if state.head_sha == parent:  # nothing else to sync: our own push syncs nothing
            state.head_sha = sha
        _remember_own(state, sha)
        state.save(update_fields=["head_sha", "own_commits", "updated_at"])
    return path, sha


def _execute(run: AgentRun) -> AgentRun:
    try:
        doc = _run_agent(run)
        path, sha = _commit_result(run, doc)
    except PaymentRequired as exc:
        return _finish(run, AgentRunStatus.FAILED, error=f"Out of AI credits: {exc.message}")
    except Forbidden as exc:
        return _finish(run, AgentRunStatus.FAILED, error=exc.message)
    except (agents.AgentFailed, GitError, df.InvalidFile) as exc:
        if run.attempts < run.max_attempts:
            return _retry_later(run, str(exc))
        return _finish(run, AgentRunStatus.FAILED, error=str(exc))
    return _finish(run, AgentRunStatus.COMPLETED, result=doc, path=path, sha=sha)


@transaction.atomic
def _retry_later(run: AgentRun, error: str) -> AgentRun:
    run = AgentRun.objects.select_for_update().get(pk=run.pk)
    run.status = AgentRunStatus.QUEUED
    run.error = error[:2000]
    run.run_after = timezone.now() + timedelta(seconds=BACKOFF_SECONDS * 2 ** (run.attempts - 1))
    _save(run, None, ["status", "error", "run_after"], reason="agent run retry scheduled")
    return run


@transaction.atomic
def _finish(run, status, *, error="", result=None, path="", sha="") -> AgentRun:
    run = AgentRun.objects.select_for_update().get(pk=run.pk)
    if run.status in AGENT_RUN_TERMINAL:
        return run
    run.status, run.finished_at, run.error = status, timezone.now(), error[:2000]
    fields = ["status", "finished_at", "error"]
    if result is not None:
        run.result, run.result_path, run.result_commit = result, path, sha
        fields += ["result", "result_path", "result_commit"]
    _save(run, None, fields, reason=f"agent run {status}")
    return run
