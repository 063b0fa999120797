"""The indexing port: lower apps announce new content without importing `vectors`.

Project files (workspaces) and artifact versions (deployments) are indexed for search by
`vectors`, a peer or higher app. They call `file_uploaded(file_id)` or
`artifact_version_created(artifact_id)` after their write; `VectorsConfig.ready()` registers
the handlers, which enqueue the ingestion on commit. With no handler registered the calls
do nothing: indexing is derived data and can be rebuilt (`manage.py reindex`).

The rebuild needs to list what was announced: `DeploymentsConfig.ready()` registers an
artifact source, and `artifact_versions(project_id)` returns every artifact version of a
project as dicts of `id` + ARTIFACT_FIELDS (empty when no source is registered).

Repositories (deployments) announce a finished sync with `repo_synced(repo_id, project_id=,
commit_sha=)`; `vectors` then chunks the commit's text files into `project:{id}:repo:{repoId}`.
It reads the repository through the repo source `DeploymentsConfig.ready()` registers:
`repos(project_id)` lists a project's repositories with their synced commit (for reindex),
and `open_repo(repo_id)` returns a `RepoReader` (tree of a commit, blob by sha).
"""

from collections.abc import Callable
from typing import Protocol

Handler = Callable[..., None]

# What an artifact version's announcement carries (attribute names of the artifact row).
ARTIFACT_FIELDS = ("project_id", "kind", "logical_key", "version", "blob_path", "content_type")

_handlers: dict[str, Handler] = {}
_artifact_source: Callable[[str], list[dict]] | None = None


def register(event: str, handler: Handler) -> None:
    """Install the handler of `event` ("file_uploaded" | "artifact_version_created" |
    "repo_synced")."""
    _handlers[event] = handler


def _emit(event: str, object_id, **payload) -> None:
    handler = _handlers.get(event)
    if handler is not None:
        handler(str(object_id), **payload)


def file_uploaded(file_id) -> None:
    _emit("file_uploaded", file_id)


def index_artifact_version(artifact_id, **payload) -> None:
    """`payload`: project_id, kind, logical_key, version, blob_path, content_type."""
    _emit("artifact_version_created", artifact_id, **payload)


def register_artifact_source(source: Callable[[str], list[dict]]) -> None:
    """Install `source(project_id) -> [{"id", *ARTIFACT_FIELDS}]`, every artifact version."""
    global _artifact_source
    _artifact_source = source


def artifact_versions(project_id) -> list[dict]:
    """Every artifact version of the project, oldest first (for `manage.py reindex`)."""
    if _artifact_source is None:
        return []
    return _artifact_source(str(project_id))


# --- repositories ------------------------------------------------------------------------

# What a repository's listing carries: its id, project, display name and synced commit.
REPO_FIELDS = ("id", "project_id", "name", "commit_sha")


class RepoReader(Protocol):
    def tree(self, commit: str) -> dict[str, str]:
        """Every file of the commit's tree: path -> blob sha."""

    def blob(self, sha: str) -> bytes:
        """A blob's bytes by its sha."""

    def close(self) -> None: ...


_repo_source: tuple[Callable[[str], list[dict]], Callable[[str], RepoReader | None]] | None = None


def repo_synced(repo_id, *, project_id, commit_sha: str) -> None:
    """A repository's sync reached `commit_sha` (call inside the sync's transaction)."""
    _emit("repo_synced", repo_id, project_id=str(project_id), commit_sha=commit_sha)


def register_repo_source(
    repos: Callable[[str], list[dict]], open_repo: Callable[[str], RepoReader | None]
) -> None:
    """Install `repos(project_id) -> [{REPO_FIELDS}]` and `open_repo(repo_id) -> RepoReader`."""
    global _repo_source
    _repo_source = (repos, open_repo)


def repos(project_id) -> list[dict]:
    """The project's repositories with their synced commit (empty without a source)."""
    if _repo_source is None:
        return []
    return _repo_source[0](str(project_id))


def open_repo(repo_id) -> RepoReader | None:
    """A reader of the repository's trees and blobs, or None (no source, or no repository)."""
    if _repo_source is None:
        return None
    return _repo_source[1](str(repo_id))
