"""The local git backend on dulwich (pure Python): repositories on disk, `file://` URLs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dulwich.diff_tree import tree_changes
from dulwich.errors import NotGitRepository
from dulwich.object_store import commit_tree_changes, iter_tree_contents, tree_lookup_path
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo as DulwichRepo

from . import Change, CommitInfo, GitError, HeadMoved


def path_from_url(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise GitError("A local repository is named by a file:// URL.")
    return Path(unquote(parts.path))


class DulwichBackend:
    # Blobs and trees are immutable, so what was read once is cached per process by sha.
    _blob_cache: dict[bytes, bytes] = {}
    _lock = threading.Lock()

    def __init__(self, path: str | Path):
        try:
            self.repo = DulwichRepo(str(path))
        except (NotGitRepository, FileNotFoundError, NotADirectoryError):
            raise GitError(f"No git repository at {path}.")
        self.store = self.repo.object_store

    @classmethod
    def from_url(cls, url: str) -> DulwichBackend:
        return cls(path_from_url(url))

    def close(self) -> None:
        self.repo.close()

    # --- reading ------------------------------------------------------------------------

    def _commit(self, sha: str) -> Commit:
        try:
            obj = self.store[sha.encode()]
        except KeyError:
            raise GitError(f"No commit {sha} in this repository.")
        if not isinstance(obj, Commit):
            raise GitError(f"{sha} is not a commit.")
        return obj

    def head(self, branch: str) -> str | None:
        try:
            return self.repo.refs[b"refs/heads/" + branch.encode()].decode()
        except KeyError:
            return None

    def tree(self, commit: str) -> dict[str, str]:
        tree_id = self._commit(commit).tree
        return {
            entry.path.decode(): entry.sha.decode()
            for entry in iter_tree_contents(self.store, tree_id)
        }

    def blob(self, sha: str) -> bytes:
        key = sha.encode()
        cached = self._blob_cache.get(key)
        if cached is None:
            cached = self.store[key].as_raw_string()
            if len(cached) < 1_000_000:
                with self._lock:
                    if len(self._blob_cache) > 20_000:
                        self._blob_cache.clear()
                    self._blob_cache[key] = cached
        return cached

    def read(self, commit: str, path: str) -> bytes | None:
        tree_id = self._commit(commit).tree
        try:
            _, sha = tree_lookup_path(self.store.__getitem__, tree_id, path.encode())
        except KeyError:
            return None
        obj = self.store[sha]
        return obj.as_raw_string() if isinstance(obj, Blob) else None

    def diff(self, before: str | None, after: str) -> list[Change]:
        old_tree = self._commit(before).tree if before else None
        new_tree = self._commit(after).tree
        changes = []
        for change in tree_changes(self.store, old_tree, new_tree):
            if change.type == "delete":
                changes.append(Change(change.old.path.decode(), "delete"))
            elif change.type == "add":
                changes.append(Change(change.new.path.decode(), "add", change.new.sha.decode()))
            elif change.type == "rename":  # not produced without rename detection
                changes.append(Change(change.old.path.decode(), "delete"))
                changes.append(Change(change.new.path.decode(), "add", change.new.sha.decode()))
            else:
                changes.append(Change(change.new.path.decode(), "modify", change.new.sha.decode()))
        return changes

    def log(self, commit: str, *, limit: int | None = None, stop: str | None = None):
        out: list[CommitInfo] = []
        sha: str | None = commit
        while sha and sha != stop and (limit is None or len(out) < limit):
            c = self._commit(sha)
            parents = tuple(p.decode() for p in c.parents)
            out.append(
                CommitInfo(
                    sha=sha,
                    parents=parents,
                    time=c.author_time,
                    tz_offset=c.author_timezone,
                    message=c.message.decode("utf-8", "replace"),
                )
            )
            sha = parents[0] if parents else None
        return out

    # --- writing ------------------------------------------------------------------------

    def commit(self, *, branch, expected_head, files, message, author, timestamp=None) -> str:
        ref = b"refs/heads/" + branch.encode()
        base_tree = self._commit(expected_head).tree if expected_head else None
        tree = self.store[base_tree] if base_tree else Tree()
        if base_tree is None:
            self.store.add_object(tree)
        changes = []
        for path, data in sorted(files.items()):
            if data is None:
                changes.append((path.encode(), None, None))
                continue
            blob = Blob.from_string(data)
            self.store.add_object(blob)
            changes.append((path.encode(), 0o100644, blob.id))
        new_tree = commit_tree_changes(self.store, tree, changes)
        commit = Commit()
        commit.tree = new_tree
        commit.parents = [expected_head.encode()] if expected_head else []
        commit.author = commit.committer = author.encode()
        commit.author_time = commit.commit_time = int(
            time.time() if timestamp is None else timestamp
        )
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode()
        self.store.add_object(commit)
        if expected_head is None:
            ok = self.repo.refs.add_if_new(ref, commit.id)
        else:
            ok = self.repo.refs.set_if_equals(ref, expected_head.encode(), commit.id)
        if not ok:
            raise HeadMoved(f"{branch} moved while committing.")
        return commit.id.decode()
