"""Backup/restore benchmark on PostgreSQL: ours vs pg_dump -Fc, psql COPY FROM, dumpdata, loaddata.

One command (against a scratch database, never a real one):

    createdb -h 127.0.0.1 -U postgres hf_dura_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hf_dura_bench .venv/bin/python bench/backup.py

Builds a collaboration workspace of about --rows rows (default 1,000,000) with INSERT ...
SELECT generate_series: chat in 4 threads (30% text events, 5% edit events, 5% reaction
events, 30% materialized Message view rows folded exactly as the events say), 10%
comments (every fifth a reply) and 20% comment history (a "+" and a "~" row per
comment), plus the projects the comments hang off (0.1%), three authors and their team.
It prints, measured in this run:

- backup: ours (`backup_create`, zstd COPY-text parts via COPY TO, manifest, local storage) vs
  `pg_dump -Fc` of the same tables vs `dumpdata --format jsonl` of the same models on a
  workspace of --rows/10 rows, scaled to --rows;
- restore: ours (`backup_restore` into a purged workspace: checksums, COPY FROM straight
  into the tables, FK checks, audit; the view rebuild runs only
  when the backup's views version differs from the code's, and its share is printed
  apart) vs `psql \\copy FROM` of the same rows into empty copies of the tables (indexes,
  no FKs, no triggers) vs `loaddata` of that --rows/10 fixture into the
  purged workspace, scaled;
- peak RSS (VmHWM) of our backup and restore, each in its own process, at --rows/10
  and at --rows rows.

- backup vs pg_dump -Fc again over --reps (default 3) interleaved runs, min/median/max;
- restore vs COPY FROM over --reps interleaved runs (the workspace purged before each of
  ours, not counted), min/median/max;
- incremental backups (`backup_create(incremental=True)`) after 1% of the rows changed,
  --reps times in a chain, as a share of the full backup's median time.

--quick: 100,000 rows. Targets: backup <= 0.8x pg_dump -Fc (median), restore <= 2x COPY
FROM, incremental after 1% changed <= 5% of a full backup, RSS <= 150 MB at any size.
Earlier runs' workspaces are removed with `governance.purge.workspace_purge` (the tables
are append-only), but use a fresh scratch database: dropdb it after.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TABLES = [
    "workspaces_project",
    "collaboration_thread",
    "collaboration_historicalthread",
    "collaboration_comment",
    "collaboration_historicalcomment",
    "collaboration_messageevent",
    "collaboration_message",
]
# What dumpdata/loaddata move: the same rows (the workspace row itself included).
MODELS = [
    "workspaces.Workspace",
    "workspaces.Project",
    "collaboration.Thread",
    "collaboration.HistoricalThread",
    "collaboration.Comment",
    "collaboration.HistoricalComment",
    "collaboration.MessageEvent",
    "collaboration.Message",
]
THREADS = 4
AUTHORS = 3


def _setup():
    import django

    from config.env import configure

    configure()
    django.setup()


def child(action: str, arg: str) -> None:
    _setup()
    from durability import services
    from workspaces.models import Workspace

    start = time.perf_counter()
    marks = {}
    if action == "backup":
        out = services.backup_create(workspace=Workspace.objects.get(slug=arg)).backup_id
    elif action == "incremental":
        workspace = Workspace.objects.get(slug=arg)
        record = services.backup_create(workspace=workspace, incremental=True)
        out, marks["rows"] = record.backup_id, record.row_count
    else:
        from durability import versions

        def progress(event):
            if event.get("stage") == "restore":
                marks["loaded"] = time.perf_counter() - start

        rebuild = versions.views_rebuild

        def timed_rebuild(**kwargs):  # instrumentation only: the same call, timed
            began = time.perf_counter()
            try:
                return rebuild(**kwargs)
            finally:
                marks["views"] = time.perf_counter() - began

        versions.views_rebuild = timed_rebuild
        out = services.backup_restore(backup_id=arg, progress=progress)["workspace"]
    took = time.perf_counter() - start
    print("RESULT " + json.dumps({"seconds": took, "rss_mb": peak_rss_mb(), "out": out, **marks}))


def peak_rss_mb() -> int:
    """This process's own peak RSS. VmHWM, not ru_maxrss: after a (v)fork + exec Linux
    carries the parent's high-water mark into the child's ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run_child(*args) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def _spread(values: list[float]) -> str:
    return "min/median/max " + " / ".join(
        f"{v:.2f}x" for v in (min(values), statistics.median(values), max(values))
    )


def touch_rows(slug: str, count: int) -> int:
    """Change `count` comments of the workspace as an edit would (body and updated_at)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE collaboration_comment SET body = body || ' (changed)', updated_at = now()"
            " WHERE id IN (SELECT c.id FROM collaboration_comment c JOIN workspaces_workspace w"
            " ON w.id = c.workspace_id WHERE w.slug = %s ORDER BY random() LIMIT %s)",
            [slug, count],
        )
        return cur.rowcount


def timed(cmd, **kw) -> float:
    start = time.perf_counter()
    kw.setdefault("stdout", subprocess.DEVNULL)
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)
    return time.perf_counter() - start


def _chat_rows(messages: int) -> int:
    """Events + view rows of a thread of `messages` messages (1 in 6 edited, 1 in 6 reacted)."""
    return messages + messages // 6 + (messages + 3) // 6 + messages


def _thread_sql(cur, thread_id, base, messages: int, authors: list[str]) -> int:
    """Bulk-load one thread: text events 1..M, then edits, then reactions; the folded view."""
    edits = messages // 6
    at = "%(base)s::timestamptz + {} * interval '1 millisecond'"
    params = {"base": base, "thread": thread_id, "m": messages, "e": edits, "authors": authors}
    cur.execute(
        "CREATE TEMP TABLE bench_msg ON COMMIT DROP AS SELECT i, gen_random_uuid() AS mid,"
        " (%(authors)s::uuid[])[1 + mod(i, 3)] AS author,"
        " (%(authors)s::uuid[])[1 + mod(i + 1, 3)] AS reactor,"
        " CASE WHEN mod(i, 6) = 0 THEN %(m)s + i / 6"
        "      WHEN mod(i, 6) = 3 THEN %(m)s + %(e)s + (i - 3) / 6 + 1 ELSE i END AS last"
        " FROM generate_series(1, %(m)s::bigint) AS i",
        params,
    )
    events = (
        "INSERT INTO collaboration_messageevent (id, created_at, updated_at, thread_id, seq, kind,"
        " message_id, author_id, body, emoji, removed, client_id) SELECT gen_random_uuid(),"
        " {at}, {at}, %(thread)s, {seq}, '{kind}', mid, {author}, {body}, '{emoji}', false, {cid}"
        " FROM bench_msg WHERE {where}"
    )
    text_body = "'Message ' || i || ': ' || md5(i::text)"
    edit_body = "'Edited message ' || i || ': ' || md5(i::text)"
    for kind, seq, author, body, emoji, cid, where in (
        ("text", "i", "author", text_body, "", "'c' || i", "true"),
        ("edit", "last", "author", edit_body, "", "''", "mod(i, 6) = 0"),
        ("reaction", "last", "reactor", "''", "\U0001f44d", "''", "mod(i, 6) = 3"),
    ):
        cur.execute(
            events.format(
                at=at.format(seq),
                seq=seq,
                kind=kind,
                author=author,
                body=body,
                emoji=emoji,
                cid=cid,
                where=where,
            ),
            params,
        )
    cur.execute(
        "INSERT INTO collaboration_message (id, created_at, updated_at, thread_id, seq, author_id,"
        " body, client_id, posted_at, edited, edited_at, deleted, deleted_at, reactions,"
        " last_event_seq) SELECT mid, {at_i}, {at_last}, %(thread)s, i, author,"
        " CASE WHEN mod(i, 6) = 0 THEN {edit_body} ELSE {text_body} END, 'c' || i, {at_i},"
        " mod(i, 6) = 0, CASE WHEN mod(i, 6) = 0 THEN {at_last} END, false, NULL,"
        " CASE WHEN mod(i, 6) = 3 THEN jsonb_build_object('\U0001f44d',"
        " jsonb_build_array(reactor::text)) ELSE '{{}}'::jsonb END, last"
        " FROM bench_msg".format(
            at_i=at.format("i"), at_last=at.format("last"), edit_body=edit_body, text_body=text_body
        ),
        params,
    )
    cur.execute("DROP TABLE bench_msg")
    return messages + edits + (messages + 3) // 6


def build(rows: int, slug: str) -> int:
    """A workspace of about `rows` collaboration rows; returns the exact count built."""
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Role
    from collaboration import services
    from collaboration.models import Thread
    from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

    ws = WorkspaceFactory(slug=slug, name=slug, team__slug=f"{slug}-team", team__name=slug)
    tag = uuid.uuid4().hex[:6]
    users = [
        UserFactory(handle=f"{slug}-{tag}-{k}", email=f"{slug}-{tag}-{k}@example.com")
        for k in range(AUTHORS)
    ]
    for user in users:
        MembershipFactory(team=ws.team, user=user, role=Role.MEMBER)
    authors = [str(u.pk) for u in users]
    projects = max(1, rows // 1000)
    per_thread = [round(rows * 0.3) // THREADS] * THREADS
    chat = sum(_chat_rows(m) for m in per_thread) + 2 * THREADS  # + threads and their history
    comments = max(1, (rows - projects - chat) // 3)
    base = timezone.now() - datetime.timedelta(days=60)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO workspaces_project (id, created_at, updated_at, workspace_id, name, slug,"
            " description, status) SELECT gen_random_uuid(), %s, %s, %s, 'Project ' || i,"
            " 'p-' || i, repeat('x', 40), 'active' FROM generate_series(1, %s) AS i",
            [base, base, ws.pk, projects],
        )
        for t in range(THREADS):
            thread = services.thread_create(workspace=ws, title=f"Thread {t}", actor=users[t % 3])
            last = _thread_sql(
                cur, thread.pk, base + datetime.timedelta(days=t + 1), per_thread[t], authors
            )
            Thread.objects.filter(pk=thread.pk).update(last_seq=last)
        cur.execute(
            "CREATE TEMP TABLE bench_p ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY id)"
            " AS n, id FROM workspaces_project WHERE workspace_id = %s",
            [ws.pk],
        )
        # Five consecutive comments per project; the fifth replies to the fourth.
        cur.execute(
            "CREATE TEMP TABLE bench_c ON COMMIT DROP AS SELECT i, gen_random_uuid() AS id,"
            " p.id AS project, (%(authors)s::uuid[])[1 + mod(i, 3)] AS author,"
            " %(base)s::timestamptz + i * interval '1 second' AS at"
            " FROM generate_series(1, %(c)s::bigint) AS i"
            " JOIN bench_p p ON p.n = 1 + mod((i - 1) / 5, %(p)s)",
            {"authors": authors, "base": base, "c": comments, "p": projects},
        )
        body = "'Comment ' || c.i || ': ' || repeat('lorem ipsum ', 4)"
        edited = "'Comment ' || c.i || ' (edited): ' || repeat('lorem ipsum ', 4)"
        cur.execute(
            "INSERT INTO collaboration_comment (id, created_at, updated_at, workspace_id,"
            " project_id, parent_id, author_id, body, edited_at, is_deleted, deleted_at)"
            f" SELECT c.id, c.at, c.at + interval '1 hour', %s, c.project, prev.id, c.author,"
            f" {edited}, c.at + interval '1 hour', false, NULL FROM bench_c c"
            " LEFT JOIN bench_c prev ON prev.i = c.i - 1 AND mod(c.i, 5) = 0",
            [ws.pk],
        )
        cur.execute(
            "INSERT INTO collaboration_historicalcomment (id, created_at, updated_at, body,"
            " edited_at, is_deleted, deleted_at, history_id, history_date, history_change_reason,"
            " history_type, author_id, history_user_id, parent_id, project_id, workspace_id)"
            f" SELECT c.id, c.at, c.at + h.later, CASE WHEN h.kind = '+' THEN {body} ELSE"
            f" {edited} END, CASE WHEN h.kind = '~' THEN c.at + h.later END, false, NULL,"
            " gen_random_uuid(), c.at + h.later, h.reason, h.kind, c.author, c.author, prev.id,"
            " c.project, %s FROM bench_c c"
            " LEFT JOIN bench_c prev ON prev.i = c.i - 1 AND mod(c.i, 5) = 0,"
            " (VALUES ('+', interval '0', 'comment posted'),"
            "         ('~', interval '1 hour', 'comment edited')) AS h (kind, later, reason)",
            [ws.pk],
        )
        cur.execute(
            "SELECT (SELECT count(*) FROM workspaces_project WHERE workspace_id = %(ws)s)"
            " + (SELECT count(*) FROM collaboration_comment WHERE workspace_id = %(ws)s)"
            " + (SELECT count(*) FROM collaboration_historicalcomment WHERE workspace_id = %(ws)s)"
            " + (SELECT count(*) FROM collaboration_thread WHERE workspace_id = %(ws)s)"
            " + (SELECT count(*) FROM collaboration_historicalthread WHERE workspace_id = %(ws)s)"
            " + (SELECT count(*) FROM collaboration_messageevent e JOIN collaboration_thread t"
            "    ON t.id = e.thread_id WHERE t.workspace_id = %(ws)s)"
            " + (SELECT count(*) FROM collaboration_message m JOIN collaboration_thread t"
            "    ON t.id = m.thread_id WHERE t.workspace_id = %(ws)s)",
            {"ws": ws.pk},
        )
        built = cur.fetchone()[0]
    # Set hint bits and the visibility map and write the dirty pages out now, so neither
    # ours nor pg_dump (whichever reads first) pays for the first read of freshly inserted
    # rows or competes with the checkpoint that flushes them.
    with connection.cursor() as cur:
        for table in TABLES:
            cur.execute(f"VACUUM ANALYZE {table}")
        cur.execute("CHECKPOINT")  # a superuser (or pg_checkpoint) on the scratch database
    return built


def check_view(slug: str) -> None:
    """The bulk-loaded view must be exactly what replaying the events gives."""
    from django.db import transaction

    from collaboration.materialized import rebuild_thread, view_snapshot
    from collaboration.models import Thread
    from workspaces.models import Workspace

    ws = Workspace.objects.get(slug=slug)
    before = view_snapshot(ws)
    with transaction.atomic():
        for thread in Thread.objects.filter(workspace=ws):
            rebuild_thread(thread)
        after = view_snapshot(ws)
        transaction.set_rollback(True)
    if before != after:
        sys.exit("the bulk-loaded Message view differs from a replay of its events")


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
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    if args.quick:
        args.rows = 100_000
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database.")
    tmp = Path(tempfile.mkdtemp(prefix="hf-bench-"))
    os.environ["HOLDFAST_DATA_DIR"] = str(tmp)
    os.environ.pop("S3_BUCKET", None)
    # As in production: with DEBUG on, Django keeps the SQL of the last 9,000 queries in
    # memory, which inflates the RSS (and time) of ours, dumpdata and loaddata alike.
    os.environ["DEBUG"] = "false"
    # migrate_safely, as production does: it also stamps the schema-version document.
    subprocess.run([sys.executable, "manage.py", "migrate_safely", "-v0"], check=True, cwd=ROOT)
    _setup()
    from accounts.models import Team
    from workspaces.models import Workspace

    for slug in Workspace.objects.filter(slug__startswith="bench-").values_list("slug", flat=True):
        purge(slug)
    Team.objects.filter(slug__startswith="bench-").delete()

    # The 100k subset first, alone in the tables, so dumpdata of its models is its rows.
    t = time.perf_counter()
    subset = build(args.rows // 10, "bench-small")
    check_view("bench-small")
    print(f"built the subset: {subset:,} rows in {time.perf_counter() - t:.1f}s", flush=True)
    small = run_child("backup", "bench-small")
    jsonl = tmp / "subset.jsonl"
    dump_took = timed(
        [sys.executable, "manage.py", "dumpdata", *MODELS, "--format", "jsonl", "-o", str(jsonl)]
    )
    with open(jsonl, "rb") as fh:
        dumped = sum(1 for _ in fh)
    purge("bench-small")
    small_r = run_child("restore", small["out"])
    purge("bench-small")
    load_took = timed([sys.executable, "manage.py", "loaddata", str(jsonl)])
    purge("bench-small")
    print(
        f"subset: ours backup {small['seconds']:.2f}s, ours restore {small_r['seconds']:.2f}s,"
        f" dumpdata {dump_took:.2f}s and loaddata {load_took:.2f}s of {dumped:,} objects",
        flush=True,
    )

    t = time.perf_counter()
    n = build(args.rows, "bench-large")
    print(f"built {n:,} rows in {time.perf_counter() - t:.1f}s", flush=True)
    scale = n / subset
    print(f"\n== backup of {n:,} rows ==")
    ours = run_child("backup", "bench-large")
    archive = tmp / "backups" / ours["out"]
    size = sum(f.stat().st_size for f in archive.rglob("*") if f.is_file())
    print(
        f"ours backup          {ours['seconds']:7.2f}s  {size / 1e6:7.1f} MB  "
        f"peak RSS {ours['rss_mb']} MB",
        flush=True,
    )
    dump = tmp / "pg.dump"
    tflags = [x for t in TABLES for x in ("-t", t)]
    pg_took = timed(["pg_dump", "-Fc", *tflags, "-f", str(dump), url])
    print(f"pg_dump -Fc          {pg_took:7.2f}s  {dump.stat().st_size / 1e6:7.1f} MB", flush=True)
    print(
        f"dumpdata jsonl       {dump_took:7.2f}s on {subset:,} rows, scaled x{scale:.2f}: "
        f"{dump_took * scale:.1f}s",
        flush=True,
    )
    print(
        f"-> ours / pg_dump -Fc = {ours['seconds'] / pg_took:.2f}x "
        f"(first rep); dumpdata / ours = {dump_took * scale / ours['seconds']:.1f}x"
    )
    ratios, fulls = [ours["seconds"] / pg_took], [ours["seconds"]]
    for _ in range(args.reps - 1):  # interleaved, so load elsewhere hits both alike
        again = run_child("backup", "bench-large")
        pg_again = timed(["pg_dump", "-Fc", *tflags, "-f", str(dump), url])
        ratios.append(again["seconds"] / pg_again)
        fulls.append(again["seconds"])
    print(f"-> backup / pg_dump -Fc over {args.reps} reps: {_spread(ratios)} (target <= 0.8x)")

    print(f"\n== incremental backup after 1% of {n:,} rows changed ==")
    overlap = os.environ.get("BACKUP_INCREMENTAL_OVERLAP_SECONDS", "120")
    print(f"(BACKUP_INCREMENTAL_OVERLAP_SECONDS={overlap})")
    incrementals = []
    for _ in range(args.reps):
        changed = touch_rows("bench-large", n // 100)
        delta = run_child("incremental", "bench-large")
        incrementals.append(delta["seconds"])
        print(
            f"  {changed:,} rows changed: incremental {delta['seconds']:.2f}s carrying "
            f"{delta['rows']:,} rows (the overlap re-reads earlier reps' changes), "
            f"peak RSS {delta['rss_mb']} MB",
            flush=True,
        )
    full_median = statistics.median(fulls)
    shares = [x / full_median for x in incrementals]
    print(
        f"-> incremental / full backup ({full_median:.2f}s median): {_spread(shares)} "
        "(target <= 0.05x)"
    )

    print(f"\n== restore of {n:,} rows ==")
    copies = {}
    for table in TABLES:
        copies[table] = tmp / f"{table}.copy"
        psql(url, f"\\copy {table} TO '{copies[table]}'")
    print(
        f"loaddata             {load_took:7.2f}s on {subset:,} rows, scaled x{scale:.2f}: "
        f"{load_took * scale:.1f}s  (into the purged workspace)",
        flush=True,
    )
    restore_ratios, ours_r = [], {}
    for rep in range(args.reps):  # interleaved: COPY FROM, then ours, per repetition
        for table in TABLES:
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
        purge_took = purge("bench-large")
        ours_r = run_child("restore", ours["out"])
        views = ours_r.get("views", 0.0)
        loaded = ours_r.get("loaded", 0.0)
        restore_ratios.append(ours_r["seconds"] / copy_total)
        print(
            f"rep {rep + 1}: psql COPY FROM {copy_total:6.2f}s (into empty copies with indexes);"
            f" ours restore {ours_r['seconds']:6.2f}s, peak RSS {ours_r['rss_mb']} MB"
            f" (purge before it {purge_took:.2f}s, not counted)\n"
            f"  of which: checksums + load {loaded:.2f}s, view rebuild {views:.2f}s (only when"
            f" the views version differs), FK checks at commit + files + audit"
            f" {ours_r['seconds'] - loaded - views:.2f}s -> {restore_ratios[-1]:.2f}x",
            flush=True,
        )
    print(
        f"-> restore / COPY FROM over {args.reps} reps: {_spread(restore_ratios)} (target <= 2x);"
        f" loaddata / ours = {load_took * scale / ours_r['seconds']:.1f}x"
    )

    print(f"\n== peak RSS at {subset:,} and {n:,} rows ==")
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
