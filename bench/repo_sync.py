"""Repository sync benchmark (issue 14).

    .venv/bin/python bench/repo_sync.py [--quick] [--chapters N] [--commits N]

Builds a bare repository (default 200 chapters and 5,000 commits; `--quick`: 40 and 400)
with dulwich, connects it to a project in a scratch SQLite database, and times, in the same
run and on the same repository:

- a push sync touching one chapter (the whole service: diff of the trees, parse, incremental
  stats, cache write) vs `git log --numstat before..after` plus `wc -w` of the touched file;
- a push sync touching every chapter vs the same baseline for every file;
- a full stats computation (word counts, per-day history over every commit, streaks) vs
  `git log --numstat` of the whole history plus `wc -w` of every chapter at the head.

Each figure is min / median / max of several runs; the ratio uses the medians. Target: an
incremental sync within 2x the git+wc baseline for the files it touches.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = "the quick brown fox jumps over a lazy dog while rain falls on quiet hills".split()


def text(rng: random.Random, n: int) -> bytes:
    return (" ".join(rng.choice(WORDS) for _ in range(n)) + "\n").encode()


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fmt(samples: list[float]) -> str:
    return (f"min {min(samples) * 1000:8.1f} ms  median {statistics.median(samples) * 1000:8.1f}"
            f" ms  max {max(samples) * 1000:8.1f} ms")  # fmt: skip


def git_baseline(git_dir: Path, before: str, after: str, paths: list[str]) -> None:
    """`git log --numstat before..after` and `wc -w` of the touched files at `after`."""
    range_ = f"{before}..{after}" if before else after
    subprocess.run(["git", f"--git-dir={git_dir}", "log", "--numstat", range_],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    objects = "".join(f"{after}:{p}\n" for p in paths).encode()
    cat = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "--batch"], input=objects,
                         check=True, capture_output=True)  # fmt: skip
    subprocess.run(["wc", "-w"], input=cat.stdout, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--chapters", type=int)
    parser.add_argument("--commits", type=int)
    args = parser.parse_args()
    chapters = args.chapters or (40 if args.quick else 200)
    commits = args.commits or (400 if args.quick else 5000)
    repeat = 3 if args.quick else 5

    scratch = Path(tempfile.mkdtemp(prefix="hf-bench-sync-"))
    os.environ["HOLDFAST_DATA_DIR"] = str(scratch / "data")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from dulwich.repo import Repo as DulwichRepo

    from deployments import draftforge as df
    from deployments import services
    from deployments.git.local import DulwichBackend
    from deployments.services import repo_sync
    from tests.factories import ProjectFactory, UserFactory

    rng = random.Random(14)
    git_dir = scratch / "novel.git"
    git_dir.mkdir()
    DulwichRepo.init_bare(str(git_dir)).close()
    backend = DulwichBackend(git_dir)
    names = [f"chapters/{n:03d}-chapter.md" for n in range(chapters)]
    clock = 1_700_000_000

    def commit(files):
        nonlocal clock
        clock += rng.choice([600, 3600, 20_000, 86_400])
        return backend.commit(branch="main", expected_head=backend.head("main"), files=files,
                              message="edit", author="A <a@x>", timestamp=clock)  # fmt: skip

    t0 = time.perf_counter()
    config = b'version: "1.0"\nproject:\n  name: Bench\ngithub_actions:\n  stats_enabled: true\n'
    commit({df.CONFIG: config, **{p: text(rng, 1000) for p in names}})
    for _ in range(commits - 1):
        commit({rng.choice(names): text(rng, rng.randint(800, 1200))})
    backend.store.pack_loose_objects()  # as a pushed (bare, packed) repository is
    backend.close()
    backend = DulwichBackend(git_dir)
    print(f"built {chapters} chapters x {commits} commits in {time.perf_counter() - t0:.1f} s")

    user = UserFactory()
    repo = services.repo_connect(project=ProjectFactory(), provider="git", owner="o", name="n",
                                 clone_url=git_dir.as_uri(), actor=user)  # fmt: skip
    head = backend.head("main")

    full_repeat = 3  # the longest figure: a few runs are enough
    full = timed(lambda: df.compute_stats(backend, head), full_repeat)
    full_git = timed(lambda: git_baseline(git_dir, "", head, names), full_repeat)
    repo_sync.repo_sync_run(repo_id=repo.pk)  # the first sync: everything

    def push(paths):
        before = backend.head("main")
        after = commit({p: text(rng, rng.randint(800, 1200)) for p in paths})
        return before, after

    one, one_git, all_, all_git = [], [], [], []
    for _ in range(repeat):
        before, after = push([rng.choice(names)])
        start = time.perf_counter()
        assert repo_sync.repo_sync_run(repo_id=repo.pk) == "synced"
        one.append(time.perf_counter() - start)
        touched = [c.path for c in backend.diff(before, after)]
        one_git += timed(lambda b=before, a=after, t=touched: git_baseline(git_dir, b, a, t), 1)
    for _ in range(max(2, repeat - 2)):
        before, after = push(names)
        start = time.perf_counter()
        assert repo_sync.repo_sync_run(repo_id=repo.pk) == "synced"
        all_.append(time.perf_counter() - start)
        all_git += timed(lambda b=before, a=after: git_baseline(git_dir, b, a, names), 1)

    rows = [
        ("push sync, one chapter", one, one_git),
        (f"push sync, all {chapters} chapters", all_, all_git),
        (f"full stats ({commits} commits)", full, full_git),
    ]
    print(f"{'':34} {'holdfast':^52} | {'git log --numstat + wc -w':^52} | ratio")
    for label, ours, base in rows:
        ratio = statistics.median(ours) / statistics.median(base)
        print(f"{label:34} {fmt(ours)} | {fmt(base)} | {ratio:5.2f}x")


if __name__ == "__main__":
    main()
