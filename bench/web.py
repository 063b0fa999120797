"""Web page benchmark: server time of the workspace, project and chat pages vs their JSON
API twins, with 10 and 10,000 rows behind them, in one run.

    .venv/bin/python bench/web.py [--sizes 10,10000] [--reps 30] [--cold]

In process (Django's test Client, no network), with DEBUG off as in production, on a
scratch SQLite database under a temporary HOLDFAST_DATA_DIR unless DATABASE_URL is set
(then use a scratch database: the rows stay). For each size it builds a workspace with
`tests.page_data.fill(world, n)` (n comments, chat messages, approvals, deployments, runs,
artifacts, preview versions, backups, notifications), signs in one member, warms each URL
once, then times `--reps` GETs of each, interleaving page and API so load on the machine
hits both alike, and prints min/median/max in ms (CPU time, then wall time) and the ratio
page/API of the medians:

- workspace page `/w/<slug>/`            vs `GET /api/v1/workspaces/<slug>/projects/`
- project page `/w/<slug>/p/<project>/`  vs `GET /api/v1/workspaces/<slug>/comments/?project=`
- each other project tab `?tab=<name>`   vs `GET …/projects/<id>/<name>/`
- chat page `/w/<slug>/chat/<thread>/`   vs `GET /api/v1/workspaces/<slug>/threads/<id>/messages/`

The page renders more than its twin (the base layout, the header badge, the sections), so
the twin is the API call a client would make for the page's main list. Chat messages and
comment threads come from the item cache once rendered (`workspaces.pages.render_items`);
`--cold` empties the cache before every request to show the first view. Results are in
docs/web.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup() -> None:
    # Measure what production serves: DEBUG off (no query log, no debug template info).
    os.environ.setdefault("DEBUG", "false")
    if not os.environ.get("DATABASE_URL"):
        os.environ["HOLDFAST_DATA_DIR"] = tempfile.mkdtemp(prefix="hf-web-bench-")
    import django

    from config.env import configure

    configure()
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)


def _time(client, url: str, *, cold: bool = False) -> tuple[float, float]:
    """(wall ms, CPU ms) of one GET. On SQLite the database runs in this process, so CPU
    time is the whole server's work, and other load on a shared machine does not inflate
    it the way it inflates wall time. `cold` empties the cache first (no cached fragments,
    sessions re-read)."""
    if cold:
        from django.core.cache import cache

        cache.clear()
    cpu, start = time.process_time(), time.perf_counter()
    response = client.get(url)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert response.status_code == 200, (url, response.status_code)
    return wall * 1000, cpu * 1000


def bench(n: int, reps: int, cold: bool = False) -> list[tuple]:
    from django.test import Client

    from tests.page_data import fill
    from tests.tenancy import make_tenant_world

    started = time.perf_counter()
    world = make_tenant_world()
    filled = fill(world, n)
    print(f"  built {n} rows of each kind in {time.perf_counter() - started:.1f} s")
    client = Client()
    client.force_login(world.member)
    slug = world.workspace.slug
    api = f"/api/v1/workspaces/{slug}/"
    pairs = [
        ("workspace", f"/w/{slug}/", api + "projects/"),
        (
            "project",
            f"/w/{slug}/p/{filled.project.slug}/",
            api + f"comments/?project={filled.project.pk}",
        ),
        *(
            (
                f"project?tab={tab}",
                f"/w/{slug}/p/{filled.project.slug}/?tab={tab}",
                api + f"projects/{filled.project.pk}/{tab}/",
            )
            for tab in ("previews", "deployments", "runs", "artifacts")
        ),
        (
            "chat",
            f"/w/{slug}/chat/{filled.thread.pk}/",
            api + f"threads/{filled.thread.pk}/messages/",
        ),
    ]
    rows = []
    for name, page_url, api_url in pairs:
        _time(client, page_url), _time(client, api_url)
        page_t, api_t = [], []
        for _ in range(reps):
            page_t.append(_time(client, page_url, cold=cold))
            api_t.append(_time(client, api_url, cold=cold))
        rows.append((name, n, page_t, api_t))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,10000")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--cold", action="store_true", help="empty the cache before every request")
    args = parser.parse_args()
    _setup()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for n in sizes:
        print(f"size {n}:")
        results.extend(bench(n, args.reps, cold=args.cold))

    def fmt(ts):
        return f"{min(ts):6.1f} {statistics.median(ts):6.1f} {max(ts):6.1f}"

    for label, index in (("CPU", 1), ("wall", 0)):
        head = f"{'page ms min/med/max':>22}  {'API ms min/med/max':>22}"
        print(f"\n{label} time{' (cold cache)' if args.cold else ''}:")
        print(f"{'page':<24} {'rows':>6}  {head}  page/API")
        medians = {}
        for name, n, page_t, api_t in results:
            page_ms, api_ms = [t[index] for t in page_t], [t[index] for t in api_t]
            ratio = statistics.median(page_ms) / statistics.median(api_ms)
            medians[(name, n)] = statistics.median(page_ms)
            print(f"{name:<24} {n:>6}  {fmt(page_ms):>22}  {fmt(api_ms):>22}  {ratio:6.2f}x")
        if len(sizes) > 1:
            small, large = sizes[0], sizes[-1]
            print(f"flat in rows (page median at {large} / at {small}):")
            for name in dict.fromkeys(name for name, *_ in results):
                print(f"  {name:<24} {medians[(name, large)] / medians[(name, small)]:5.2f}x")


if __name__ == "__main__":
    main()
