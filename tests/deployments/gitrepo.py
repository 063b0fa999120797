"""Real git repositories for the repository-sync tests, made with dulwich, and push deliveries
signed the way GitHub signs them."""

from __future__ import annotations

import itertools
import json
import uuid
from pathlib import Path

from dulwich.repo import Repo as DulwichRepo

from deployments.git import ZERO_SHA
from deployments.git.local import DulwichBackend
from deployments.services import repo_sync

DAY = 86_400
T0 = 1_761_000_000  # 2025-10-20 22:40 UTC
_head = object()

SEED_CONFIG = """\
version: "1.0"

# The project, as DraftForge describes it.
project:
  name: "My Novel"
  type: novel
  genre: fantasy
  language: en
  target_word_count: 80000

structure:
  chapters_directory: chapters
  manuscript_directory: manuscript
  assets_directory: assets

agents:
  continuity:
    enabled: true
    model: claude-3-5-sonnet
    trigger: pr
    context_window: 5
    auto_comment: true

  style:
    enabled: true
    model: gpt-4o-mini
    trigger: commit
    checks:
      - tense_consistency
      - pov_shifts
      - readability

  timeline:
    enabled: false

  fact:
    enabled: false

compilation:
  pandoc_template: default
  include_cover: true
  auto_build_on_tag: true
  formats:
    - epub
    - pdf

github_actions:
  stats_enabled: true
  compile_enabled: true
  ai_review_enabled: true
"""

SEED_METADATA = """\
title: "My Epic Novel"
subtitle: "A Tale of Adventure"
author:
  name: "Jane Author"
  email: "jane@example.com"
  website: "https://janeauthor.com"

series:
  name: "The Great Saga"
  number: 1
  total: 3

publishing:
  isbn: "978-0-123456-78-9"
  edition: "First Edition"
  copyright_year: 2025
  publisher: "Self-Published"

categories:
  - Fiction
  - Fantasy
  - Adventure

keywords:
  - magic
  - dragons
  - quest

description: |
  A thrilling adventure story about...

dedication: "For my family"

cover_image: "../assets/cover.png"
"""


class GitRepo:
    """A bare repository on disk with a `main` branch the tests push to."""

    def __init__(self, path: Path):
        path.mkdir(parents=True, exist_ok=True)
        DulwichRepo.init_bare(str(path)).close()
        self.path = path
        self.url = path.as_uri()
        self.backend = DulwichBackend(path)
        self.clock = itertools.count(T0, 3600)

    def head(self) -> str | None:
        return self.backend.head("main")

    def commit(self, files: dict, *, when: int | None = None, parent=_head, message="edit"):
        """Commit `files` (path → str/bytes, None deletes). `parent` other than the head is a
        force push: main is reset to `parent` (None: an orphan) before committing."""
        if parent is not _head:
            ref = b"refs/heads/main"
            if parent is None:
                self.backend.repo.refs.remove_if_equals(ref, None)
            else:
                self.backend.repo.refs[ref] = parent.encode()
        data = {p: (v.encode() if isinstance(v, str) else v) for p, v in files.items()}
        return self.backend.commit(
            branch="main",
            expected_head=self.head(),
            files=data,
            message=message,
            author="Author <a@example.com>",
            timestamp=next(self.clock) if when is None else when,
        )


def words(n: int, word: str = "word") -> str:
    return " ".join([word] * n) + "\n"


def push_body(*, before: str | None, after: str, forced=False, ref="refs/heads/main") -> bytes:
    return json.dumps(
        {
            "ref": ref,
            "before": before or ZERO_SHA,
            "after": after,
            "forced": forced,
            "commits": [{"id": after}],  # GitHub sends at most 20; sync does not trust it
            "repository": {"full_name": "author/novel"},
        }
    ).encode()


def hook_headers(
    repo,
    body: bytes,
    *,
    delivery: str | None = None,
    secret: str | None = None,
    event: str = "push",
) -> dict:
    secret = secret or repo_sync.webhook_secret(repo=repo)
    return {
        "HTTP_X_GITHUB_EVENT": event,
        "HTTP_X_GITHUB_DELIVERY": delivery or str(uuid.uuid4()),
        "HTTP_X_HUB_SIGNATURE_256": repo_sync.signature_for(secret, body),
    }


def hook_url(repo) -> str:
    return f"/api/v1/hooks/git/{repo.pk}/"
