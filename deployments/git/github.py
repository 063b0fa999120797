"""The GitHub backend: the same interface over GitHub's REST Git Data API.

Trees are read recursively and compared by blob sha (so a diff is exact for force pushes and
has no 300-file limit, unlike `compare`); a commit creates blobs, one tree on the parent's
tree and one commit whose parent is the head read before, then moves the branch with
`force: false`, which GitHub refuses (422) unless the move is a fast-forward — the
compare-and-swap. `GITHUB_TOKEN` comes from the environment and is held in memory only.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import quote

from ..redaction import redact_text
from . import Change, CommitInfo, GitError, HeadMoved


class GitHubBackend:
    def __init__(self, *, owner: str, name: str, token: str, api_url: str, timeout: float = 30):
        if not token:
            raise GitError("GitHub is not configured: set GITHUB_TOKEN.")
        if not (api_url.startswith("https://") or api_url.startswith("http://127.0.0.1")):
            raise GitError("The GitHub backend only talks HTTPS.")
        self.base = f"{api_url.rstrip('/')}/repos/{quote(owner)}/{quote(name)}"
        self.token = token
        self.timeout = timeout
        self._trees: dict[str, dict[str, str]] = {}

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | list]:
        req = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            f"{self.base}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "holdfast",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
                return response.status, (json.loads(raw) if raw else {})
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 409, 422):
                return exc.code, {}
            raise GitError(redact_text(f"{method} {path} failed with {exc.code}."))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise GitError(redact_text(f"{method} {path} failed: {exc}"))

    def _get(self, path: str) -> dict:
        status, data = self._call("GET", path)
        if status != 200:
            raise GitError(f"GitHub has no {path}.")
        return data  # type: ignore[return-value]

    def head(self, branch):
        status, data = self._call("GET", f"/git/ref/heads/{quote(branch)}")
        return None if status == 404 else data["object"]["sha"]

    def _tree_sha(self, commit: str) -> str:
        return self._get(f"/git/commits/{commit}")["tree"]["sha"]

    def tree(self, commit):
        if commit not in self._trees:
            data = self._get(f"/git/trees/{self._tree_sha(commit)}?recursive=1")
            if data.get("truncated"):
                raise GitError("The repository tree is too large for GitHub's tree API.")
            self._trees[commit] = {
                item["path"]: item["sha"] for item in data["tree"] if item["type"] == "blob"
            }
        return self._trees[commit]

    def blob(self, sha):
        data = self._get(f"/git/blobs/{sha}")
        return base64.b64decode(data["content"])

    def read(self, commit, path):
        sha = self.tree(commit).get(path)
        return None if sha is None else self.blob(sha)

    def diff(self, before, after):
        old = self.tree(before) if before else {}
        new = self.tree(after)
        changes = [Change(p, "delete") for p in sorted(old.keys() - new.keys())]
        for path, sha in sorted(new.items()):
            if path not in old:
                changes.append(Change(path, "add", sha))
            elif old[path] != sha:
                changes.append(Change(path, "modify", sha))
        return changes

    def log(self, commit, *, limit=None, stop=None):
        out: list[CommitInfo] = []
        page = 1
        seen_first_parent = commit
        while limit is None or len(out) < limit:
            status, data = self._call("GET", f"/commits?sha={commit}&per_page=100&page={page}")
            if status != 200 or not data:
                break
            for item in data:  # type: ignore[union-attr]
                if item["sha"] != seen_first_parent:
                    continue  # not on the first-parent chain (a merged branch's commit)
                if item["sha"] == stop:
                    return out
                parents = tuple(p["sha"] for p in item.get("parents", []))
                when = datetime.fromisoformat(
                    item["commit"]["author"]["date"].replace("Z", "+00:00")
                )
                out.append(
                    CommitInfo(
                        sha=item["sha"],
                        parents=parents,
                        time=int(when.timestamp()),
                        tz_offset=0,
                        message=item["commit"]["message"],
                    )
                )
                seen_first_parent = parents[0] if parents else ""
                if limit is not None and len(out) >= limit:
                    break
            if not seen_first_parent:
                break
            page += 1
        return out

    def commit(self, *, branch, expected_head, files, message, author):
        if expected_head is None:
            raise GitError("Holdfast does not create branches on GitHub.")
        items = []
        for path, data in sorted(files.items()):
            if data is None:
                items.append({"path": path, "mode": "100644", "type": "blob", "sha": None})
                continue
            status, blob = self._call(
                "POST",
                "/git/blobs",
                {"content": base64.b64encode(data).decode(), "encoding": "base64"},
            )
            if status != 201:
                raise GitError(f"GitHub refused a blob for {path}.")
            items.append({"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]})
        status, tree = self._call(
            "POST", "/git/trees", {"base_tree": self._tree_sha(expected_head), "tree": items}
        )
        if status != 201:
            raise GitError("GitHub refused the tree.")
        name, _, email = author.partition(" <")
        status, new = self._call(
            "POST",
            "/git/commits",
            {
                "message": message,
                "tree": tree["sha"],
                "parents": [expected_head],
                "author": {"name": name, "email": email.rstrip(">") or "holdfast@localhost"},
            },
        )
        if status != 201:
            raise GitError("GitHub refused the commit.")
        if self.head(branch) != expected_head:
            raise HeadMoved(f"{branch} moved while committing.")
        status, _ = self._call(
            "PATCH", f"/git/refs/heads/{quote(branch)}", {"sha": new["sha"], "force": False}
        )
        if status == 422:  # not a fast-forward: the head moved between our read and the update
            raise HeadMoved(f"{branch} moved while committing.")
        if status != 200:
            raise GitError(f"GitHub refused to move {branch}.")
        return new["sha"]
