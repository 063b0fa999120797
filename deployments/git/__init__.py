"""One interface to a project's git repository: read a tree, diff two commits, log, and commit
files with compare-and-swap on the branch head.

Two implementations: `local.DulwichBackend` (bare or non-bare repositories on disk, reached by a
`file://` clone URL — `provider: "git"`) and `github.GitHubBackend` (the REST Git Data API with
`GITHUB_TOKEN` from the environment). `backend_for(repo)` picks one; tests may install a
replacement with `set_backend_factory()`. Services never touch dulwich or HTTP directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

ZERO_SHA = "0" * 40


class GitError(Exception):
    """A repository could not be read or written; the message is safe to show."""


class HeadMoved(GitError):
    """The branch head is not the commit the caller built on (someone pushed meanwhile)."""


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "add" | "modify" | "delete"
    sha: str = ""  # the new blob's sha ("" for a delete)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    time: int  # seconds since the epoch (author time)
    tz_offset: int  # seconds east of UTC (author time zone)
    message: str


class GitBackend(Protocol):
    def head(self, branch: str) -> str | None:
        """The branch's commit sha, or None when the branch does not exist."""

    def tree(self, commit: str) -> dict[str, str]:
        """Every file of the commit's tree: path → blob sha."""

    def read(self, commit: str, path: str) -> bytes | None:
        """The file's bytes at `commit`, or None when it is not there."""

    def blob(self, sha: str) -> bytes:
        """A blob's bytes by its sha."""

    def diff(self, before: str | None, after: str) -> list[Change]:
        """Files that differ between the trees of two commits (`before` None: all of `after`)."""

    def log(
        self, commit: str, *, limit: int | None = None, stop: str | None = None
    ) -> list[CommitInfo]:
        """First-parent history from `commit` back, newest first (ending before `stop`)."""

    def commit(
        self,
        *,
        branch: str,
        expected_head: str | None,
        files: dict[str, bytes | None],
        message: str,
        author: str,
    ) -> str:
        """Commit `files` (path → bytes, None deletes) on top of `expected_head` and move
        `branch` to it only if it still points there; raises HeadMoved otherwise."""


def commit_with_retry(
    backend: GitBackend,
    *,
    branch: str,
    build: Callable[[str | None], dict[str, bytes | None] | None],
    message: str,
    author: str,
    attempts: int = 5,
) -> tuple[str | None, str | None]:
    """Read the head, let `build(head)` decide the files, commit with compare-and-swap; on a
    race read the new head and build again. Returns (new commit or None, the head built on);
    `build` returning None (nothing to change) commits nothing."""
    for _ in range(attempts):
        head = backend.head(branch)
        files = build(head)
        if not files:
            return None, head
        try:
            return (
                backend.commit(
                    branch=branch,
                    expected_head=head,
                    files=files,
                    message=message,
                    author=author,
                ),
                head,
            )
        except HeadMoved:
            continue
    raise HeadMoved(f"The branch {branch} kept moving; gave up after {attempts} attempts.")


_factory: Callable | None = None


def set_backend_factory(factory: Callable | None) -> None:
    """Install a replacement `factory(repo) -> GitBackend` (tests); None restores the default."""
    global _factory
    _factory = factory


def backend_for(repo) -> GitBackend:
    """The backend of a connected `deployments.Repo`."""
    if _factory is not None:
        return _factory(repo)
    if repo.provider == "git":
        from .local import DulwichBackend

        return DulwichBackend.from_url(repo.clone_url)
    from django.conf import settings

    from .github import GitHubBackend

    return GitHubBackend(
        owner=repo.owner,
        name=repo.name,
        token=settings.GITHUB_TOKEN,
        api_url=settings.GITHUB_API_URL,
    )
