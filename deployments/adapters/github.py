"""The GitHub adapter: every push and merge Holdfast makes goes through `get_adapter()`.

The real adapter uses the REST Git Data API with `GITHUB_TOKEN` from the
environment (held in memory only). Tests install a fake with `set_adapter()`.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

from django.conf import settings

from . import AdapterError, RepoRef
from ._http import request_json


class GitHubAdapter(Protocol):
    def push(
        self, *, repo: RepoRef, branch: str, base_branch: str, files: dict[str, str], message: str
    ) -> dict:
        """Commit `files` (path → text) on top of `branch` (created from `base_branch` when
        missing); returns {"commit_sha", "branch"}."""

    def merge(self, *, repo: RepoRef, head: str, base: str, message: str) -> dict:
        """Merge `head` into `base`; returns {"merged": bool, "commit_sha"}."""


class GitHubRestAdapter:
    def __init__(self, *, token: str, api_url: str):
        if not token:
            raise AdapterError("GitHub is not configured: set GITHUB_TOKEN.")
        self.token = token
        self.api_url = api_url.rstrip("/")

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        return request_json(
            method,
            f"{self.api_url}{path}",
            token=self.token,
            body=body,
            extra_headers={"X-GitHub-Api-Version": "2022-11-28"},
        )

    def _repo(self, repo: RepoRef) -> str:
        return f"/repos/{quote(repo.owner)}/{quote(repo.name)}"

    def _ref_sha(self, repo: RepoRef, branch: str) -> str | None:
        status, data = self._call("GET", f"{self._repo(repo)}/git/ref/heads/{quote(branch)}")
        return None if status == 404 else data["object"]["sha"]

    def push(self, *, repo, branch, base_branch, files, message):
        base = self._repo(repo)
        parent = self._ref_sha(repo, branch)
        exists = parent is not None
        if parent is None:
            parent = self._ref_sha(repo, base_branch)
            if parent is None:
                raise AdapterError(
                    f"Branch {base_branch} does not exist in {repo.owner}/{repo.name}."
                )
        _, commit = self._call("GET", f"{base}/git/commits/{parent}")
        tree_items = [
            {"path": path, "mode": "100644", "type": "blob", "content": content}
            for path, content in sorted(files.items())
        ]
        _, tree = self._call(
            "POST", f"{base}/git/trees", {"base_tree": commit["tree"]["sha"], "tree": tree_items}
        )
        _, new_commit = self._call(
            "POST",
            f"{base}/git/commits",
            {"message": message, "tree": tree["sha"], "parents": [parent]},
        )
        if exists:
            self._call(
                "PATCH", f"{base}/git/refs/heads/{quote(branch)}", {"sha": new_commit["sha"]}
            )
        else:
            self._call(
                "POST",
                f"{base}/git/refs",
                {"ref": f"refs/heads/{branch}", "sha": new_commit["sha"]},
            )
        return {"commit_sha": new_commit["sha"], "branch": branch}

    def merge(self, *, repo, head, base, message):
        status, data = self._call(
            "POST",
            f"{self._repo(repo)}/merges",
            {"base": base, "head": head, "commit_message": message},
        )
        if status == 404:
            raise AdapterError(f"{head} or {base} does not exist in {repo.owner}/{repo.name}.")
        if status == 204:
            return {"merged": False, "commit_sha": self._ref_sha(repo, base) or ""}
        return {"merged": True, "commit_sha": data.get("sha", "")}


_override: GitHubAdapter | None = None


def set_adapter(adapter: GitHubAdapter | None) -> None:
    """Install a replacement adapter (tests); None restores the real one."""
    global _override
    _override = adapter


def get_adapter() -> GitHubAdapter:
    if _override is not None:
        return _override
    return GitHubRestAdapter(token=settings.GITHUB_TOKEN, api_url=settings.GITHUB_API_URL)
