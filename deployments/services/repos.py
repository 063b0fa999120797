"""Repositories: connect and update, and the approved side effects push and merge."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db import transaction

from common.exceptions import Conflict, ValidationFailed
from workspaces.models import Project

from ..adapters import RepoRef
from ..adapters import github as github_adapter
from ..models import (
    ApprovalScope,
    Repo,
    RepoProvider,
    Run,
)
from ..redaction import is_secret_key, looks_secret, redact
from ._common import (
    _check_same_project,
    _save,
)
from .approvals import _approval_use, _guarded

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
