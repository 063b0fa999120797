"""Repository sync (seed 001): the repository is the source of truth, the database its cache.

- `hook_receive` checks a push delivery's HMAC, records it once and queues a sync.
- `repo_sync_run` diffs the trees between the last synced commit and the branch head (not the
  payload's 20-commit list, so force pushes, `before` of zeros and deliveries arriving twice or
  out of order all converge to the head), and refreshes the settings, metadata and stats
  caches from the files that changed. An invalid file is rejected with its path and JSON
  pointer; its previous cached value stays; the project's admins get an email.
- `settings_update` commits `config.yml` (ruamel round trip) with compare-and-swap on the
  head; keys the repository changed since the cache was read keep the repository's values
  (repo wins) and are reported. The cache moves only when the commit landed, and the synced
  head moves with it, so the push event of our own commit syncs nothing.
- `project_stats` serves the cache, or reads the repository when the cache is missing or the
  database read fails.

Push-hook secrets are not stored: each is an HMAC of the repo id and a generation counter
under `REPO_WEBHOOK_KEY` (default: SECRET_KEY), recomputed to verify a delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings as django_settings
from django.core.mail import send_mail
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.models import Membership, Role
from common import indexing
from common.exceptions import Conflict, NotFound, ValidationFailed
from workspaces.models import Project

from .. import draftforge as df
from ..git import ZERO_SHA, GitError, backend_for, commit_with_retry
from ..models import Repo
from ..sync_models import DeliveryStatus, RepoDelivery, RepoSyncState, SyncStatus
from ._common import ProviderFailed

logger = logging.getLogger(__name__)

OWN_COMMITS_KEPT = 50
PR_ACTIONS = ("opened", "synchronize", "reopened")
DELIVERY_RETENTION = timedelta(days=30)


class SignatureInvalid(Exception):
    """The delivery's signature does not match: answer 401 and record nothing."""


# --- secrets --------------------------------------------------------------------------------


def _hook_key() -> bytes:
    return (django_settings.REPO_WEBHOOK_KEY or django_settings.SECRET_KEY).encode()


def webhook_secret(*, repo: Repo, generation: int | None = None) -> str:
    if generation is None:
        generation = state_for(repo=repo).secret_generation
    digest = hmac.new(_hook_key(), f"repo-hook:{repo.pk}:{generation}".encode(), hashlib.sha256)
    return "hfgit_" + base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def signature_for(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@transaction.atomic
def webhook_secret_rotate(*, repo: Repo) -> str:
    state = RepoSyncState.objects.select_for_update().get(pk=state_for(repo=repo).pk)
    state.secret_generation += 1
    state.save(update_fields=["secret_generation", "updated_at"])
    return webhook_secret(repo=repo, generation=state.secret_generation)


# --- state ------------------------------------------------------------------------------------


def state_for(*, repo: Repo) -> RepoSyncState:
    state, _ = RepoSyncState.objects.get_or_create(repo=repo)
    return state


def source_repo(*, project: Project) -> Repo | None:
    """The project's repository of record: the first one connected."""
    return Repo.objects.filter(project=project).order_by("created_at", "pk").first()


def _require_repo(project: Project) -> Repo:
    repo = source_repo(project=project)
    if repo is None:
        raise NotFound("This project has no connected repository.")
    return repo


# --- inbound deliveries ---------------------------------------------------------------------


def hook_receive(*, repo_id, body: bytes, headers) -> tuple[RepoDelivery, bool]:
    """Verify and record one delivery; returns (delivery, created). A replay returns the first
    delivery and does nothing. Raises SignatureInvalid before anything is written."""
    repo = Repo.objects.filter(pk=repo_id).select_related("sync_state").first()
    signature = headers.get("X-Hub-Signature-256", "")
    if repo is None or not signature:
        raise SignatureInvalid("Unknown repository or unsigned delivery.")
    generation = getattr(getattr(repo, "sync_state", None), "secret_generation", 1)
    expected = signature_for(webhook_secret(repo=repo, generation=generation), body)
    if not hmac.compare_digest(expected, signature):
        raise SignatureInvalid("The signature does not match.")
    delivery_id = (headers.get("X-GitHub-Delivery") or "").strip()
    event = (headers.get("X-GitHub-Event") or "").strip()
    if not delivery_id or len(delivery_id) > 100:
        raise ValidationFailed("X-GitHub-Delivery is required.", field="X-GitHub-Delivery")
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise ValidationFailed("The body is not JSON.", field="body")
    if not isinstance(payload, dict):
        raise ValidationFailed("The body is a JSON object.", field="body")
    ref = str(payload.get("ref") or "")[:255]
    status, detail = DeliveryStatus.QUEUED, ""
    pr_number = None
    if event == "pull_request":
        pr = payload.get("pull_request") or {}
        if payload.get("action") in PR_ACTIONS and isinstance(payload.get("number"), int):
            pr_number = payload["number"]
            ref = str((pr.get("head") or {}).get("ref") or "")[:255]
            status, detail = DeliveryStatus.SYNCED, f"pr {pr_number}: agents with trigger pr"
        else:
            status, detail = DeliveryStatus.IGNORED, f"pull_request {payload.get('action')}"
    elif event != "push":
        status, detail = DeliveryStatus.IGNORED, f"{event or 'unnamed'} event"
    elif ref != f"refs/heads/{repo.default_branch}":
        status, detail = DeliveryStatus.IGNORED, f"push to {ref}, not {repo.default_branch}"
    with transaction.atomic():
        delivery, created = RepoDelivery.objects.get_or_create(
            repo=repo,
            delivery_id=delivery_id,
            defaults={
                "event": event[:50],
                "ref": ref,
                "before": str(payload.get("before") or "")[:64],
                "after": str(payload.get("after") or "")[:64],
                "forced": bool(payload.get("forced")),
                "status": status,
                "detail": detail,
            },
        )
        if created and pr_number is not None:
            config = state_for(repo=repo).settings
            transaction.on_commit(lambda: _queue_agents(repo, "pr", str(pr_number), config))
        if created and status == DeliveryStatus.QUEUED:
            from ..sync_tasks import repo_sync as repo_sync_task

            transaction.on_commit(lambda: repo_sync_task.delay(str(repo.pk), str(delivery.pk)))
    return delivery, created


def deliveries_prune() -> int:
    cutoff = timezone.now() - DELIVERY_RETENTION
    deleted, _ = RepoDelivery.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- repo → database -----------------------------------------------------------------------


def _notify_admins(repo: Repo, errors: list[dict]) -> None:
    project = repo.project
    emails = list(
        Membership.objects.filter(
            team_id=project.workspace.team_id, role__in=[Role.OWNER, Role.ADMIN]
        ).values_list("user__email", flat=True)
    )
    if not emails:
        return
    lines = "\n".join(
        f"- {e['path']} {e['pointer'] or '(whole file)'}: {e['message']}" for e in errors
    )
    send_mail(
        f"[Holdfast] {project.name}: a repository file was rejected",
        f"Holdfast kept the previous values because these files are not valid:\n\n{lines}\n",
        None,
        [e for e in emails if e],
        fail_silently=True,
    )


def _read_doc(backend, head, path, parse, schema_name):
    data = backend.read(head, path)
    if data is None:
        return None
    return parse(data, path=path, schema_name=schema_name)


def _stats_enabled(config: dict) -> bool:
    return bool(((config or {}).get("github_actions") or {}).get("stats_enabled", False))


def _remember_own(state: RepoSyncState, sha: str) -> None:
    state.own_commits = [*state.own_commits, sha][-OWN_COMMITS_KEPT:]


def repo_sync_run(*, repo_id, delivery_id=None, full: bool = False) -> str:
    """Bring one repository's caches to its branch head; returns the outcome. Idempotent:
    running it again at the same head does nothing."""
    repo = Repo.objects.select_related("project__workspace").filter(pk=repo_id).first()
    if repo is None:
        return "missing"
    delivery = RepoDelivery.objects.filter(pk=delivery_id).first() if delivery_id else None
    backend = backend_for(repo)
    head = backend.head(repo.default_branch)
    with transaction.atomic():
        state = RepoSyncState.objects.select_for_update().get(pk=state_for(repo=repo).pk)
        outcome, detail = _sync_locked(repo, state, backend, head, full=full)
        if head is not None and state.head_sha:  # code search indexes the synced commit
            indexing.repo_synced(repo.pk, project_id=repo.project_id, commit_sha=state.head_sha)
        if delivery is not None:
            delivery.status = outcome
            delivery.detail = detail[:500]
            delivery.save(update_fields=["status", "detail", "updated_at"])
    return outcome


def _sync_locked(repo, state, backend, head, *, full: bool) -> tuple[str, str]:
    now = timezone.now()
    if head is None:
        state.status, state.synced_at = SyncStatus.FAILED, now
        state.errors = [{"path": "", "pointer": "", "message": f"no branch {repo.default_branch}"}]
        state.save()
        return DeliveryStatus.FAILED, f"no branch {repo.default_branch}"
    old = None if full else (state.head_sha or None)
    if old == head:
        return DeliveryStatus.SKIPPED, "already at the head"
    try:
        changes = backend.diff(old if old != ZERO_SHA else None, head)
    except GitError:  # the old head is gone (force push and gc): compare with nothing
        old, changes = None, backend.diff(None, head)
    paths = {c.path for c in changes}
    dirs = df.directories(state.settings)
    # A rewritten history (force push) changes the per-day stats even with an equal tree.
    rewritten = old is not None and not _descends(backend, old, head)
    if old is not None and not rewritten and not df.touches_sync_paths(paths, dirs):
        state.head_sha, state.synced_at = head, now
        state.save(update_fields=["head_sha", "synced_at", "updated_at"])
        return DeliveryStatus.SKIPPED, "no .draftforge/ or manuscript change"
    errors = {e["path"]: e for e in state.errors if e.get("path")}
    first = old is None

    def refresh(path, parse, schema_name, apply):
        if not (first or path in paths):
            return
        try:
            apply(_read_doc(backend, head, path, parse, schema_name))
            errors.pop(path, None)
        except df.InvalidFile as exc:
            errors[path] = exc.as_dict()

    def set_settings(doc):
        state.settings, state.settings_sha = doc or {}, head

    def set_metadata(doc):
        state.metadata = doc or {}

    repo_stats: dict = {
        "doc": state.stats if state.stats_source == "repository file" else None,
        "changed": False,
    }

    def set_repo_stats(doc):
        repo_stats.update(doc=doc, changed=True)

    refresh(df.CONFIG, df.parse_yaml, "config", set_settings)
    refresh(df.METADATA, df.parse_yaml, "metadata", set_metadata)
    refresh(df.STATS, df.parse_json, "stats", set_repo_stats)
    dirs = df.directories(state.settings)
    text_changed = first or rewritten or any(df.text_kind(p, dirs) for p in paths)
    config_changed = df.CONFIG in paths  # the stats carry the project's name and target
    committed = None
    if text_changed or config_changed or state.stats is None or repo_stats["changed"]:
        if _stats_enabled(state.settings) and repo_stats["doc"] is not None:
            state.stats, state.stats_source = repo_stats["doc"], "repository file"
        else:
            stats, working = df.compute_stats(
                backend, head, config=state.settings, previous=state.computed or None
            )
            state.stats, state.stats_source, state.computed = stats, "computed", working
            if not _stats_enabled(state.settings) and _stats_file(backend, head) != stats:
                committed = _write_stats(repo, backend, head, stats)
    state.errors = list(errors.values())
    state.status = SyncStatus.INVALID if errors else SyncStatus.OK
    state.head_sha, state.synced_at = committed or head, now
    if committed:
        _remember_own(state, committed)
    state.save()
    if errors:
        rejected = [e for p, e in errors.items() if first or p in paths]
        if rejected:
            transaction.on_commit(lambda: _notify_admins(repo, rejected))
    if text_changed:
        transaction.on_commit(lambda: _queue_commit_agents(repo, head, state.settings))
    return DeliveryStatus.SYNCED, f"synced {len(paths)} changed files at {head[:12]}"


def _descends(backend, old: str, head: str) -> bool:
    """Whether `head` has `old` on its first-parent chain (a fast-forward push)."""
    log = backend.log(head, stop=old)
    return bool(log) and bool(log[-1].parents) and log[-1].parents[0] == old


def _stats_file(backend, head) -> dict | None:
    data = backend.read(head, df.STATS)
    try:
        return json.loads(data) if data is not None else None
    except ValueError:
        return None


def _write_stats(repo, backend, head, stats) -> str | None:
    """Commit the computed stats.json on top of `head` (no retry: if the author pushed
    meanwhile, their push's sync computes and writes the newer stats)."""
    from ..git import HeadMoved

    df.validate("stats", stats, path=df.STATS)  # every file Holdfast writes is validated
    try:
        return backend.commit(
            branch=repo.default_branch,
            expected_head=head,
            files={df.STATS: df.dump_json(stats)},
            message="Update .draftforge/stats.json [holdfast]",
            author=django_settings.REPO_COMMIT_AUTHOR,
        )
    except (HeadMoved, GitError) as exc:
        logger.info("repo %s: stats not written back: %s", repo.pk, exc)
        return None


def _queue_commit_agents(repo, head, config) -> None:
    _queue_agents(repo, "commit", head, config)


def _queue_agents(repo, trigger: str, ref: str, config) -> None:
    from .agent_runs import agent_runs_for_trigger

    try:
        agent_runs_for_trigger(
            project=repo.project, repo=repo, trigger=trigger, ref=ref, config=config
        )
    except Exception:  # an agent that cannot be queued must not fail the sync or the hook
        logger.exception("repo %s: could not queue %s agents", repo.pk, trigger)


def repo_resync(*, repo: Repo) -> str:
    """Rebuild a repository's caches from nothing (the cache is semi-critical)."""
    with transaction.atomic():
        state = RepoSyncState.objects.select_for_update().get(pk=state_for(repo=repo).pk)
        state.computed, state.stats, state.stats_source = {}, None, ""
        state.save(update_fields=["computed", "stats", "stats_source", "updated_at"])
    return repo_sync_run(repo_id=repo.pk, full=True)


@contextmanager
def _repository_reachable():
    """In a request: a repository that cannot be read (GitHub down or not configured, a
    local path that is not a repository) is the upstream's failure, a 502, never a 500."""
    try:
        yield
    except GitError as exc:
        raise ProviderFailed(f"The repository could not be read: {exc}") from exc


def repo_sync_request(*, repo: Repo) -> str:
    """`POST …/repos/{id}/sync/`: sync now, in the request (a local read is fast; a
    repository that cannot be read comes back as 502)."""
    with _repository_reachable():
        return repo_sync_run(repo_id=repo.pk)


# --- database → repo: settings ---------------------------------------------------------------


def settings_get(*, project: Project) -> RepoSyncState:
    return state_for(repo=_require_repo(project))


def settings_update(*, project: Project, changes: dict, actor) -> dict:
    """Commit `changes` (a partial config.yml as JSON; null deletes a key) to the repository.
    Keys the repository changed since the cache was read keep the repository's values."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed("Send the config.yml keys to change, as JSON.", field="settings")
    repo = _require_repo(project)
    with _repository_reachable():
        backend = backend_for(repo)
    state = state_for(repo=repo)
    cache = state.settings or {}
    outcome: dict = {}

    def build(head):
        current_bytes = backend.read(head, df.CONFIG) if head else None
        try:
            current = (
                df.parse_yaml(current_bytes, path=df.CONFIG, schema_name="config")
                if current_bytes is not None
                else {}
            )
        except df.InvalidFile as exc:
            raise Conflict(f"The repository's config.yml is not valid ({exc}); fix it there.")
        patch = json.loads(json.dumps(changes))
        conflicts = []
        for path in df.leaf_paths(changes):
            repo_value, cache_value = df.get_path(current, path), df.get_path(cache, path)
            if repo_value != cache_value:
                conflicts.append(
                    {
                        "key": ".".join(map(str, path)),
                        "repository": None if repo_value is df._MISSING else repo_value,
                        "yours": df.get_path(changes, path),
                    }
                )
                df.drop_path(patch, path)
        new_doc = df.merged(current, patch)
        try:
            df.validate("config", new_doc, path=df.CONFIG)
        except df.InvalidFile as exc:
            raise ValidationFailed(f"{exc.message} (at {exc.pointer or '/'})", field="settings")
        outcome.update(conflicts=conflicts, doc=new_doc, current=current)
        if not df.leaf_paths(patch) or new_doc == current:
            return None
        return {df.CONFIG: df.yaml_update(current_bytes, patch)}

    try:
        sha, parent = commit_with_retry(
            backend,
            branch=repo.default_branch,
            build=build,
            message="Update .draftforge/config.yml [holdfast]",
            author=django_settings.REPO_COMMIT_AUTHOR,
        )
    except GitError as exc:
        raise Conflict(f"The settings could not be committed: {exc}")
    with transaction.atomic():
        state = RepoSyncState.objects.select_for_update().get(pk=state.pk)
        if sha is not None:
            state.settings, state.settings_sha = outcome["doc"], sha
            if state.head_sha == parent:  # the cache was current: it stays current
                state.head_sha = sha
            _remember_own(state, sha)
        elif outcome.get("conflicts"):  # nothing landed; the repository's values stand
            state.settings = outcome["current"]
        state.save()
    return {
        "settings": state.settings,
        "commit_sha": sha,
        "conflicts": outcome.get("conflicts", []),
    }


# --- stats -------------------------------------------------------------------------------------


def project_stats(*, project: Project) -> tuple[dict, str]:
    """(stats, source): the database cache, or the repository when the cache is missing or
    the database cannot be read."""
    repo = _require_repo(project)
    try:
        stats = RepoSyncState.objects.filter(repo=repo).values_list("stats", flat=True).first()
    except DatabaseError:
        logger.warning("project %s: stats cache unreadable; reading the repository", project.pk)
        stats = None
    if stats:
        return stats, "database"
    with _repository_reachable():
        return stats_from_repository(repo=repo), "repository"


def stats_from_repository(*, repo: Repo) -> dict:
    backend = backend_for(repo)
    head = backend.head(repo.default_branch)
    if head is None:
        raise NotFound("The repository has no commits yet.")
    config = {}
    try:
        config = _read_doc(backend, head, df.CONFIG, df.parse_yaml, "config") or {}
        stored = _read_doc(backend, head, df.STATS, df.parse_json, "stats")
    except df.InvalidFile:
        stored = None
    if stored is not None:
        return stored
    stats, _ = df.compute_stats(backend, head, config=config)
    return stats
