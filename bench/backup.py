"""Backup/restore benchmark on PostgreSQL: ours vs pg_dump -Fc, psql COPY FROM, dumpdata, loaddata.

One command (against a scratch database, never a real one):

    createdb -h 127.0.0.1 -U postgres hf_dura_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hf_dura_bench .venv/bin/python bench/backup.py

Builds a workspace of --rows rows (default 1,000,000: 10% projects, 30% project history,
10% runs, 50% run steps with JSON columns) with INSERT ... SELECT generate_series, then
prints, measured in this run:

- backup: ours (`backup_create`, zstd JSONL parts via COPY TO, manifest, local storage) vs
  `pg_dump -Fc` of the same four tables vs `dumpdata --format jsonl` (on the 100k-row
  projects table, scaled to --rows);
- restore: ours (`backup_restore` into a purged workspace: checksums, COPY FROM into a temp
  table, INSERT ... json_populate_record, FK checks, audit) vs `psql \\copy FROM` of the
  same rows into empty copies of the tables (indexes, no FKs) vs `loaddata` (the 100k
  projects fixture, scaled);
- peak RSS (ru_maxrss) of our backup and restore, each in its own process, at 100k and at
  --rows rows.

Targets: backup <= 1.0x pg_dump -Fc, restore <= 3x COPY FROM, RSS <= 150 MB at any size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TABLES = [
    "workspaces_project",
    "workspaces_historicalproject",
    "deployments_run",
    "deployments_runstep",
]


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
        out = services.backup_create(workspace=Workspace.objects.get(slug=arg)).backup_id
    else:
        out = services.backup_restore(backup_id=arg)["workspace"]
    took = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print("RESULT " + json.dumps({"seconds": took, "rss_mb": rss, "out": out}))


def run_child(*args) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def timed(cmd, **kw) -> float:
    start = time.perf_counter()
    kw.setdefault("stdout", subprocess.DEVNULL)
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)
    return time.perf_counter() - start


def build(rows: int, slug: str) -> str:
    from django.db import connection, transaction

    from tests.factories import WorkspaceFactory

    ws = WorkspaceFactory(slug=slug, name=slug, team__slug=f"{slug}-team", team__name=slug)
    p = rows // 10
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO workspaces_project (id, created_at, updated_at, workspace_id, name, slug,"
            " description, status) SELECT gen_random_uuid(), now(), now(), %s, 'Project ' || i,"
            " 'p-' || i, repeat('x', 40), 'active' FROM generate_series(1, %s) AS i",
            [ws.pk, p],
        )
        cur.execute(
            "INSERT INTO workspaces_historicalproject (id, created_at, updated_at, workspace_id,"
            " name, slug, description, status, history_date, history_change_reason,"
            " history_type, history_user_id, history_id) SELECT p.id, p.created_at, p.updated_at,"
            " p.workspace_id, p.name || ' v' || g, p.slug, p.description, p.status,"
            " now() - g * interval '1 hour', 'bench', CASE WHEN g = 3 THEN '+' ELSE '~' END,"
            " NULL, gen_random_uuid() FROM workspaces_project p, generate_series(1, 3) g"
            " WHERE p.workspace_id = %s",
            [ws.pk],
        )
        cur.execute(
            "INSERT INTO deployments_run (id, created_at, updated_at, project_id, kind, status,"
            " started_at, ended_at, metadata, created_by_id, idempotency_key) SELECT"
            " gen_random_uuid(), now(), now(), p.id, 'build', 'succeeded', now(), now(),"
            " jsonb_build_object('commit', md5(p.slug), 'n', 1), NULL, ''"
            " FROM workspaces_project p WHERE p.workspace_id = %s",
            [ws.pk],
        )
        cur.execute(
            "INSERT INTO deployments_runstep (id, created_at, updated_at, run_id, step_id, name,"
            " status, input, output, error, attempts, started_at, ended_at) SELECT"
            " gen_random_uuid(), now(), now(), r.id, 'step-' || g, 'Step ' || g, 'succeeded',"
            " '{\"arg\": \"value\"}', jsonb_build_object('ok', true, 'lines', g), '', 1, now(),"
            " now() FROM deployments_run r JOIN workspaces_project p ON p.id = r.project_id,"
            " generate_series(1, 5) g WHERE p.workspace_id = %s",
            [ws.pk],
        )
        cur.execute("ANALYZE")
    return str(ws.pk)


def purge(slug: str) -> float:
    from governance.purge import workspace_purge
    from workspaces.models import Workspace

    start = time.perf_counter()
    workspace_purge(workspace=Workspace.objects.get(slug=slug), actor=None, reason="benchmark")
    return time.perf_counter() - start


def psql(url: str, command: str) -> float:
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    return timed(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command], env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database.")
    tmp = Path(tempfile.mkdtemp(prefix="hf-bench-"))
    os.environ["HOLDFAST_DATA_DIR"] = str(tmp)
    os.environ.pop("S3_BUCKET", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT)
    _setup()
    from django.db import connection

    n, subset = args.rows, args.rows // 10
    with connection.cursor() as cur:
        cur.execute("SELECT set_config('holdfast.purge', 'on', false)")
        for table in reversed(TABLES):
            cur.execute(f"DELETE FROM {table}")  # noqa: S608 - a scratch database
        cur.execute("SELECT set_config('holdfast.purge', 'off', false)")
    from accounts.models import Team
    from workspaces.models import Workspace

    for slug in Workspace.objects.filter(slug__startswith="bench-").values_list("slug", flat=True):
        purge(slug)
    Team.objects.filter(slug__startswith="bench-").delete()
    t = time.perf_counter()
    build(n, "bench-large")
    print(f"built {n:,} rows in {time.perf_counter() - t:.1f}s", flush=True)
    rows = {}
    print(f"\n== backup of {n:,} rows ==")
    ours = run_child("backup", "bench-large")
    archive = tmp / "backups" / ours["out"]
    size = sum(f.stat().st_size for f in archive.rglob("*") if f.is_file())
    rows["ours backup"] = ours["seconds"]
    print(
        f"ours backup          {ours['seconds']:7.2f}s  {size / 1e6:7.1f} MB  "
        f"peak RSS {ours['rss_mb']} MB",
        flush=True,
    )
    dump = tmp / "pg.dump"
    tflags = [x for t in TABLES for x in ("-t", t)]
    took = timed(["pg_dump", "-Fc", *tflags, "-f", str(dump), url])
    rows["pg_dump"] = took
    print(f"pg_dump -Fc          {took:7.2f}s  {dump.stat().st_size / 1e6:7.1f} MB", flush=True)
    jsonl = tmp / "projects.jsonl"
    took = timed(
        [
            sys.executable,
            "manage.py",
            "dumpdata",
            "workspaces.Project",
            "--format",
            "jsonl",
            "-o",
            str(jsonl),
        ]
    )
    print(
        f"dumpdata jsonl       {took:7.2f}s on {subset:,} rows, scaled x{n // subset}: "
        f"{took * n / subset:.1f}s",
        flush=True,
    )
    print(
        f"-> ours / pg_dump -Fc = {rows['ours backup'] / rows['pg_dump']:.2f}x "
        f"(target <= 1.0x); dumpdata / ours = {took * n / subset / rows['ours backup']:.1f}x"
    )

    print(f"\n== restore of {n:,} rows ==")
    copies = {}
    for table in TABLES:
        copies[table] = tmp / f"{table}.copy"
        psql(url, f"\\copy {table} TO '{copies[table]}'")
        psql(
            url,
            f"DROP TABLE IF EXISTS bench_{table}; "
            f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)",
        )
    copy_total = 0.0
    for table in TABLES:
        copy_total += psql(url, f"\\copy bench_{table} FROM '{copies[table]}'")
    for table in TABLES:
        psql(url, f"DROP TABLE bench_{table}")
    print(f"psql COPY FROM       {copy_total:7.2f}s  (into empty copies with indexes)", flush=True)
    took = timed([sys.executable, "manage.py", "loaddata", str(jsonl)])
    print(
        f"loaddata             {took:7.2f}s on {subset:,} rows, scaled x{n // subset}: "
        f"{took * n / subset:.1f}s  (over the existing rows)",
        flush=True,
    )
    purge_took = purge("bench-large")
    print(f"(purge of the workspace before restoring: {purge_took:.2f}s, not counted)")
    ours_r = run_child("restore", ours["out"])
    print(
        f"ours restore         {ours_r['seconds']:7.2f}s  peak RSS {ours_r['rss_mb']} MB  "
        f"(verify checksums + load + FK checks + files + audit)",
        flush=True,
    )
    print(
        f"-> ours / COPY FROM = {ours_r['seconds'] / copy_total:.2f}x (target <= 3x); "
        f"loaddata / ours = {took * n / subset / ours_r['seconds']:.1f}x"
    )

    print(f"\n== peak RSS at {subset:,} and {n:,} rows ==")
    build(subset, "bench-small")
    small = run_child("backup", "bench-small")
    purge("bench-small")
    small_r = run_child("restore", small["out"])
    print(
        f"backup  {subset:>9,} rows: {small['rss_mb']:4d} MB   {n:>9,} rows: "
        f"{ours['rss_mb']:4d} MB  (target <= 150 MB)"
    )
    print(
        f"restore {subset:>9,} rows: {small_r['rss_mb']:4d} MB   {n:>9,} rows: "
        f"{ours_r['rss_mb']:4d} MB  (target <= 150 MB)"
    )


if __name__ == "__main__":
    main()
