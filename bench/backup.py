"""Backup/restore benchmark on PostgreSQL.

    DATABASE_URL=postgres://.../hf_bench .venv/bin/python bench/backup.py [--rows N]

Builds N project rows (default 1,000,000) in one workspace with a single
INSERT ... SELECT generate_series, then times, each in a fresh subprocess that
reports its own peak RSS (resource.getrusage):
  backup:  ours (zstd JSONL, workspace scope) vs pg_dump -Fc of the same tables vs
           dumpdata --format jsonl
  restore: a 100k subset: ours vs psql COPY FROM vs loaddata (scaled to N)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SUBSET = 100_000


def _setup():
    import django

    from config.env import configure

    configure()
    django.setup()


def child(action: str, arg: str) -> None:
    _setup()
    from governance.durability import services
    from workspaces.models import Workspace

    start = time.perf_counter()
    if action == "backup":
        services.create_backup(workspace=Workspace.objects.get(slug=arg))
    elif action == "restore":
        services.restore_backup(arg)
    took = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"RESULT {took:.2f} {rss}")


def run_child(*args) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    ).stdout
    line = [x for x in out.splitlines() if x.startswith("RESULT")][-1].split()
    return float(line[1]), int(line[2])


def timed(cmd, **kw) -> float:
    start = time.perf_counter()
    kw.setdefault("stdout", subprocess.DEVNULL)
    subprocess.run(cmd, check=True, stderr=subprocess.PIPE, **kw)
    return time.perf_counter() - start


def build(rows: int, slug: str) -> None:
    _setup()
    from django.db import connection

    from tests.factories import WorkspaceFactory
    from workspaces.models import Workspace

    Workspace.objects.filter(slug=slug).delete()
    ws = WorkspaceFactory(slug=slug)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO workspaces_project (id, created_at, updated_at, workspace_id, name, slug,"
            " description, status) SELECT gen_random_uuid(), now(), now(), %s, 'Project ' || i,"
            " 'p-' || i, repeat('x', 40), 'active' FROM generate_series(1, %s) AS i",
            [ws.pk, rows],
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT)
    tmp = Path(tempfile.mkdtemp(prefix="hf-bench-"))
    os.environ["HOLDFAST_DATA_DIR"] = str(tmp)
    results = []
    for n, slug in ((SUBSET, "bench-small"), (args.rows, "bench-large")):
        if n == SUBSET and args.rows == SUBSET and results:
            continue
        t = time.perf_counter()
        build(n, slug)
        print(f"built {n:,} rows in {time.perf_counter() - t:.1f}s", flush=True)
        took, rss = run_child("backup", slug)
        results.append((n, "ours backup", took, rss))
        print(f"{n:>9,} ours backup      {took:7.2f}s  peak RSS {rss} MB", flush=True)
    n = args.rows
    dump = tmp / "pg.dump"
    took = timed(["pg_dump", "-Fc", "-t", "workspaces_project", "-f", str(dump), url])
    print(f"{n:>9,} pg_dump -Fc      {took:7.2f}s  {dump.stat().st_size // 1024} KB", flush=True)
    jsonl = tmp / "dump.jsonl"
    with open(jsonl, "w") as out:
        took = timed(
            [sys.executable, "manage.py", "dumpdata", "workspaces.Project", "--format", "jsonl"],
            cwd=ROOT,
            stdout=out,
        )
    print(f"{n:>9,} dumpdata jsonl   {took:7.2f}s  {jsonl.stat().st_size // 1024} KB", flush=True)
    ours = sorted((tmp / "backups").iterdir())
    size = sum(f.stat().st_size for f in ours[-1].rglob("*") if f.is_file())
    print(f"{n:>9,} ours archive size {size // 1024} KB", flush=True)

    # Restore a 100k subset three ways; times scaled x(N/100k).
    scale = n / SUBSET
    small = ours[0]
    took, rss = run_child("restore", str(small))
    print(f"restore ours     {took:7.2f}s (x{scale:.0f} = {took * scale:.1f}s)  peak RSS {rss} MB")
    csv = tmp / "subset.copy"
    _setup()
    from workspaces.models import Workspace

    ws = Workspace.objects.get(slug="bench-small")
    where = f"workspace_id = '{ws.pk}'"
    subprocess.run(
        ["psql", url, "-qc", f"\\copy (SELECT * FROM workspaces_project WHERE {where}) TO '{csv}'"],
        check=True,
    )
    sql = (
        f"BEGIN; SET LOCAL holdfast.purge = 'on'; DELETE FROM workspaces_project WHERE {where};"
        f" \\copy workspaces_project FROM '{csv}'\nCOMMIT;"
    )
    took = timed(["psql", url, "-q", "-v", "ON_ERROR_STOP=1"], input=sql.encode())
    print(f"restore psql COPY {took:7.2f}s (x{scale:.0f} = {took * scale:.1f}s)")
    fixture = tmp / "subset.jsonl"
    with open(jsonl) as src, open(fixture, "w") as out:
        for line in src:
            if str(ws.pk) in line:
                out.write(line)
    took = timed([sys.executable, "manage.py", "loaddata", str(fixture)], cwd=ROOT)
    print(f"restore loaddata {took:7.2f}s (x{scale:.0f} = {took * scale:.1f}s)")


if __name__ == "__main__":
    main()
