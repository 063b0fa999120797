"""Chat benchmark on PostgreSQL: the cost of the event log + view, and reads at scale.

    createdb -h 127.0.0.1 -U postgres hf_collab_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hf_collab_bench .venv/bin/python bench/chat.py

Options: --posts N (default 2000), --sizes 10000,100000,1000000, --reps 3, --quick
(300 posts, 10k and 100k events), --only write|read|rebuild. It migrates the
database, then prints, all measured in the same run:

1. write: posting N messages one by one through `services.message_post` (lock the
   thread, next seq, the immutable event, the view row, mention scan, one transaction
   each) vs a bare insert of the same two rows per message (raw SQL, one transaction
   each) and vs a bare insert of the event row alone; ratios service / bare. The three
   run interleaved in 5 rounds so other load on the machine hits them alike.
2. read: the last 50 messages of threads holding 10k, 100k and 1M events (events and
   view rows bulk-loaded with INSERT ... SELECT generate_series), four ways interleaved:
   the ORM selector `message_page` (model instances), it + `MessageOutput`, the lean
   `message_rows_page` (one query, plain rows: what the API list and thread page read)
   and it + `message_rows_data` (the API list's work); min/median/max over --reps x 25
   reads, PostgreSQL's own execution time of both queries, the EXPLAIN plan showing the
   (thread, seq) unique index walked backwards; lean ratio of the largest to the smallest.
3. rebuild: replaying the largest thread through `materialized.rebuild_thread` (the
   Python reference) vs `materialized.rebuild_sql` of the whole workspace, events/s.

The write ratio and the rebuild rates are printed as min/median/max over --reps runs.

Use a scratch database: the bulk-loaded rows are append-only and stay (dropdb it after).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup() -> None:
    import django

    from config.env import configure

    configure()
    django.setup()


def _world(tag: str):
    from accounts.models import Role
    from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkspaceFactory

    team = TeamFactory(slug=f"bench-chat-{tag}", name=f"Chat bench {tag}")
    ws = WorkspaceFactory(team=team, slug=f"bench-chat-{tag}", name=f"Chat bench {tag}")
    user = UserFactory(handle=f"bench-{tag}", email=f"bench-{tag}@example.com")
    MembershipFactory(team=ws.team, user=user, role=Role.MEMBER)
    return ws, user


def bench_write(ws, user, posts: int, rounds: int = 5) -> tuple[float, float]:
    """Three ways to write the same messages, interleaved in rounds so that load from
    anything else on the machine hits all three alike."""
    from django.db import connection, transaction

    from collaboration import services

    event_sql = (
        "INSERT INTO collaboration_messageevent (id, created_at, updated_at, thread_id, seq, kind,"
        " message_id, author_id, body, emoji, removed, client_id)"
        " VALUES (%s, now(), now(), %s, %s, 'text', %s, %s, %s, '', false, %s)"
    )
    view_sql = (
        "INSERT INTO collaboration_message (id, created_at, updated_at, thread_id, seq, author_id,"
        " body, client_id, posted_at, edited, deleted, reactions, last_event_seq)"
        " VALUES (%s, now(), now(), %s, %s, %s, %s, %s, now(), false, false, '{}', %s)"
    )
    threads = {
        name: services.thread_create(workspace=ws, title=f"write bench: {name}", actor=user)
        for name in ("service", "bare_two", "bare_one")
    }

    def service(i):
        services.message_post(
            thread=threads["service"],
            body=f"message {i} for @nobody",
            client_id=f"c{i}",
            actor=user,
        )

    def bare_two(i):
        mid, body, tid = uuid.uuid4(), f"message {i} for @nobody", threads["bare_two"].pk
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(event_sql, [uuid.uuid4(), tid, i + 1, mid, user.pk, body, f"c{i}"])
            cur.execute(view_sql, [mid, tid, i + 1, user.pk, body, f"c{i}", i + 1])

    def bare_one(i):
        tid = threads["bare_one"].pk
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                event_sql, [uuid.uuid4(), tid, i + 1, uuid.uuid4(), user.pk, f"m{i}", f"c{i}"]
            )

    ways = {"service": service, "bare_two": bare_two, "bare_one": bare_one}
    took = dict.fromkeys(ways, 0.0)
    per_round = posts // rounds
    for r in range(rounds):
        for name, write in ways.items():
            start = time.perf_counter()
            for i in range(r * per_round, (r + 1) * per_round):
                write(i)
            took[name] += time.perf_counter() - start
    posts = per_round * rounds

    def per(t: float) -> str:
        return f"{t:6.2f}s  {t / posts * 1000:6.2f} ms/msg"

    print(f"write: {posts:,} messages, one transaction each ({rounds} interleaved rounds)")
    print(f"  service (event + view + seq lock + mentions) {per(took['service'])}")
    print(f"  bare insert, event + view rows               {per(took['bare_two'])}")
    print(f"  bare insert, event row only                  {per(took['bare_one'])}")
    print(f"  ratio service / bare(event+view) = {took['service'] / took['bare_two']:.2f}x")
    print(
        f"  ratio service / bare(event only) = {took['service'] / took['bare_one']:.2f}x",
        flush=True,
    )
    return took["service"] / took["bare_two"], took["service"] / posts * 1000


def statements_per_post(ws, user) -> int:
    """Statements one `message_post` sends (CaptureQueriesContext), not counting the
    transaction's BEGIN/COMMIT and savepoints."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from collaboration import services

    thread = services.thread_create(workspace=ws, title="statement count", actor=user)
    services.message_post(thread=thread, body="first", actor=user)
    with CaptureQueriesContext(connection) as captured:
        services.message_post(thread=thread, body="second", actor=user)
    return len(
        [
            q
            for q in captured.captured_queries
            if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
        ]
    )


def _spread(values: list[float], unit: str = "x", digits: int = 2) -> str:
    return "min/median/max " + " / ".join(
        f"{v:.{digits}f}{unit}" for v in (min(values), statistics.median(values), max(values))
    )


def bulk_thread(ws, user, events: int):
    """A thread holding `events` text events and their view rows, loaded in two statements."""
    from django.db import connection, transaction

    from collaboration import services

    thread = services.thread_create(workspace=ws, title=f"{events:,} events", actor=user)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE bench_ids ON COMMIT DROP AS SELECT i, gen_random_uuid() AS mid,"
            " now() - make_interval(secs => %s - i) AS at FROM generate_series(1, %s) AS i",
            [events, events],
        )
        cur.execute(
            "INSERT INTO collaboration_messageevent (id, created_at, updated_at, thread_id, seq,"
            " kind, message_id, author_id, body, emoji, removed, client_id)"
            " SELECT gen_random_uuid(), at, at, %s, i, 'text', mid, %s,"
            " 'bulk message ' || i, '', false, '' FROM bench_ids",
            [thread.pk, user.pk],
        )
        cur.execute(
            "INSERT INTO collaboration_message (id, created_at, updated_at, thread_id, seq,"
            " author_id, body, client_id, posted_at, edited, deleted, reactions, last_event_seq)"
            " SELECT mid, at, at, %s, i, %s, 'bulk message ' || i, '', at, false, false, '{}', i"
            " FROM bench_ids",
            [thread.pk, user.pk],
        )
        cur.execute(
            "UPDATE collaboration_thread SET last_seq = %s WHERE id = %s", [events, thread.pk]
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE collaboration_messageevent")
        cur.execute("ANALYZE collaboration_message")
    thread.refresh_from_db()
    return thread


def _explain(thread) -> list[str]:
    from django.db import connection

    from collaboration.models import Message

    qs = Message.objects.filter(thread=thread).order_by("-seq")[:51]  # what message_page runs
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        return [row[0] for row in cur.fetchall()]


def _explain_lean(thread) -> str:
    """PostgreSQL's own execution time of the lean read's one statement."""
    from django.db import connection

    from collaboration import rows

    sql = rows._sql(False)
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, [thread.pk, 51])
        plan = [row[0] for row in cur.fetchall()]
    assert any("message_unique_thread_seq" in line for line in plan), "index not used"
    return next(x for x in plan if x.startswith("Execution Time")).split(":")[1].strip()


def bench_read(ws, user, sizes: list[int], reps: int = 3, reads: int = 25):
    """The last 50 messages four ways, interleaved read by read so machine load hits them
    alike, with a bare `SELECT 1` round trip as the floor the machine allows: the ORM
    selector (model instances), the ORM selector + MessageOutput (what the API list did),
    the lean selector (one query, plain rows: what the API list and the page read now),
    and the lean selector + `message_rows_data` (the API list's work).
    min/median/max over reps x reads samples."""
    from django.db import connection

    from collaboration import selectors
    from collaboration.api import serializers as s

    def floor(_thread):
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            return cur.fetchall()

    ways = {
        "round-trip floor (SELECT 1)": floor,
        "ORM rows (message_page)": lambda t: selectors.message_page(thread=t, limit=50),
        "ORM rows + MessageOutput": lambda t: (
            s.MessageOutput(selectors.message_page(thread=t, limit=50).messages, many=True).data
        ),
        "lean rows (message_rows_page)": lambda t: selectors.message_rows_page(thread=t, limit=50),
        "lean rows + message_rows_data": lambda t: s.message_rows_data(
            selectors.message_rows_page(thread=t, limit=50).messages
        ),
    }
    print(f"read: last 50 messages, {reps} reps x {reads} reads each way, interleaved")
    threads, lean_median = {}, {}
    for size in sizes:
        t = time.perf_counter()
        thread = bulk_thread(ws, user, size)
        threads[size] = thread
        load = time.perf_counter() - t
        for read in ways.values():
            read(thread)  # warm
        samples = {name: [] for name in ways}
        for _ in range(reps * reads):
            for name, read in ways.items():
                start = time.perf_counter()
                read(thread)
                samples[name].append((time.perf_counter() - start) * 1000)
        page = selectors.message_rows_page(thread=thread, limit=50)
        assert [m.seq for m in page.messages] == list(range(size - 49, size + 1))
        lean_median[size] = statistics.median(samples["lean rows (message_rows_page)"])
        print(
            f"  {size:>9,} events (bulk-loaded in {load:.1f}s);"
            f" in PostgreSQL: ORM query {_explain_db_ms(thread)},"
            f" lean query {_explain_lean(thread)}"
        )
        for name, values in samples.items():
            print(f"    {name:<32} {_spread(values, ' ms', 3)}", flush=True)
    largest = max(sizes)
    plan = _explain(threads[largest])
    print(f"  EXPLAIN (ORM query) at {largest:,} events:")
    for line in plan:
        print(f"    {line}")
    assert any("message_unique_thread_seq" in line for line in plan), "index not used"
    smallest = min(sizes)
    print(
        f"  lean median {largest:,} / {smallest:,} events ="
        f" {lean_median[largest] / lean_median[smallest]:.2f}x"
        f"  (the thread is {largest // smallest}x larger)",
        flush=True,
    )
    return threads


def _explain_db_ms(thread) -> str:
    plan = _explain(thread)
    return next(x for x in plan if x.startswith("Execution Time")).split(":")[1].strip()


def bench_rebuild(ws, threads, reps: int = 3) -> None:
    """The Python replay of one thread (the reference) vs the set-based SQL rebuild of the
    whole workspace, over a current view (the fold is computed and compared in full; no
    row needs writing) and into an emptied view (every row written); events per second,
    min/median/max over `reps`. Each SQL result is checked against the replay's view."""
    from django.db import transaction

    from collaboration import materialized
    from collaboration.models import Message, MessageEvent

    size = max(threads)
    python_rates, current_rates, empty_rates = [], [], []
    events = MessageEvent.objects.filter(thread__workspace=ws).count()
    # The write part's bare-insert threads hold view rows no fold would write (the
    # event-only thread has none): the reference is the Python replay of every thread.
    materialized.rebuild_python(ws)
    reference = materialized.view_snapshot(ws)
    for _ in range(reps):
        start = time.perf_counter()
        with transaction.atomic():
            materialized.rebuild_thread(threads[size])
        python_rates.append(size / (time.perf_counter() - start))
        assert materialized.view_snapshot(ws) == reference, "the replay is not deterministic"
        start = time.perf_counter()
        materialized.rebuild_sql(ws)
        current_rates.append(events / (time.perf_counter() - start))
        Message.objects.filter(thread__workspace=ws).delete()
        start = time.perf_counter()
        materialized.rebuild_sql(ws)
        empty_rates.append(events / (time.perf_counter() - start))
        assert materialized.view_snapshot(ws) == reference, "SQL rebuild differs from the fold"
    print(f"rebuild, events/s over {reps} reps (SQL results equal the Python replay's view):")
    print(f"  Python replay ({size:,}-event thread)          {_spread(python_rates, '', 0)}")
    print(f"  SQL set-based, current view ({events:,} events) {_spread(current_rates, '', 0)}")
    print(f"  SQL set-based, empty view ({events:,} events)   {_spread(empty_rates, '', 0)}")
    print(f"  rebuild target >= 100,000 events/s: current view median "
          f"{statistics.median(current_rates):,.0f}, empty view median "
          f"{statistics.median(empty_rates):,.0f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="300 posts, threads of 10k and 100k events."
    )
    parser.add_argument("--only", choices=["write", "read", "rebuild"], help="Run one part.")
    args = parser.parse_args()
    if args.quick:
        args.posts, args.sizes = 300, "10000,100000"
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (see the docstring).")
    os.environ.setdefault("HOLDFAST_DATA_DIR", str(Path(tempfile.gettempdir()) / "hf-chat-bench"))
    # As in production: with DEBUG on (the local settings' default) every query also goes
    # through Django's CursorDebugWrapper (SQL text captured, timed, logged), ~0.1 ms per
    # read that no deployed server spends. DEBUG=true measures it anyway.
    os.environ.setdefault("DEBUG", "false")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT)
    _setup()
    from django.conf import settings

    print(f"DEBUG={settings.DEBUG}")
    tag = uuid.uuid4().hex[:8]
    ws, user = _world(tag)
    if args.only in (None, "write"):
        statements = statements_per_post(ws, user)
        print(f"statements per message_post (besides BEGIN/COMMIT): {statements}")
        ratios, per_post = [], []
        for _ in range(args.reps):
            ratio, ms = bench_write(ws, user, args.posts)
            ratios.append(ratio)
            per_post.append(ms)
        print(f"write over {args.reps} reps: service/bare(event+view) {_spread(ratios)}")
        print(f"  service ms/post {_spread(per_post, ' ms')}", flush=True)
    if args.only in (None, "read", "rebuild"):
        sizes = [int(s) for s in args.sizes.split(",")]
        threads = bench_read(ws, user, sizes, reps=args.reps if args.only != "rebuild" else 1)
        if args.only in (None, "rebuild"):
            bench_rebuild(ws, threads, args.reps)


if __name__ == "__main__":
    main()
