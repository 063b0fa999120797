"""HTTP load on the chat API through gunicorn on 127.0.0.1, reconciled with the event log.

    createdb -h 127.0.0.1 -U postgres hf_http_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/hf_http_bench
    .venv/bin/python bench/http.py [--quick]

A script's folder comes first on sys.path, so this file is what `import http` finds from
any script in bench/ (this one included): imported under the name `http`, it steps aside
and hands over the standard library's package (the block below the imports of
`__future__`), so `http.client`, `http.cookies` and Django work as usual.

Options: --clients 16, --seconds 60, --workers 2 (gunicorn), --threads 4 (per worker),
--quick (15 seconds). It migrates the database, makes a workspace, a member with an API
token and a thread, starts gunicorn (`config.wsgi`) on a free loopback port, then runs
`--clients` client threads, each a bounded loop over one keep-alive connection (stdlib
`http.client`): POST a message with a unique `client_id` (a failed post is retried once
with the same `client_id`, which the API deduplicates), then GET the last 50 messages.
It prints requests/s, p50/p99 latency per kind, errors, and reconciles every
acknowledged post with the thread's event log: lost = acknowledged but not in the log,
duplicated = a `client_id` in the log more than once; both must be 0.
"""

from __future__ import annotations

if __name__ == "http":  # imported as the standard library's `http` (see the docstring)
    import os as _os
    import sys as _sys

    _here = _os.path.dirname(_os.path.abspath(__file__))
    _saved = _sys.path[:]
    del _sys.modules["http"]
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or _os.curdir) != _here]
    try:
        import http as _std
    finally:
        _sys.path[:] = _saved
    _sys.modules["http"] = _std

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _world():
    from accounts import services as accounts
    from accounts.models import Role
    from collaboration import services as chat
    from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkspaceFactory

    tag = uuid.uuid4().hex[:8]
    team = TeamFactory(slug=f"bench-http-{tag}", name=f"HTTP bench {tag}")
    ws = WorkspaceFactory(team=team, slug=f"bench-http-{tag}", name=f"HTTP bench {tag}")
    user = UserFactory(handle=f"http-{tag}", email=f"http-{tag}@example.com")
    MembershipFactory(team=team, user=user, role=Role.MEMBER)
    _token, raw = accounts.token_create(user=user, name="bench")
    thread = chat.thread_create(workspace=ws, title="load", actor=user)
    return ws, thread, raw


class Client(threading.Thread):
    def __init__(self, index, port, path, token, deadline):
        super().__init__(daemon=True)
        self.index, self.port, self.path, self.deadline = index, port, path, deadline
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.latency: dict[str, list[float]] = {"post": [], "read": []}
        self.errors: list[str] = []
        self.acked: set[str] = set()
        self.conn: http.client.HTTPConnection | None = None

    def _request(self, method, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        start = time.perf_counter()
        try:
            self.conn.request(method, self.path, body=body, headers=self.headers)
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = None
            raise ConnectionError(str(exc)) from exc
        return response.status, time.perf_counter() - start

    def run(self):
        n = 0
        while time.monotonic() < self.deadline:
            client_id = f"c{self.index}-{n}"
            n += 1
            body = json.dumps({"body": f"load {client_id}", "client_id": client_id})
            for attempt in range(2):
                try:
                    status, took = self._request("POST", body)
                except ConnectionError as exc:
                    self.errors.append(f"post: {exc}")
                    continue
                self.latency["post"].append(took)
                if status in (200, 201):
                    self.acked.add(client_id)
                    break
                self.errors.append(f"post: HTTP {status}")
                if attempt == 0 and status < 500:
                    break
            try:
                status, took = self._request("GET")
                self.latency["read"].append(took)
                if status != 200:
                    self.errors.append(f"read: HTTP {status}")
            except ConnectionError as exc:
                self.errors.append(f"read: {exc}")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="15 seconds")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 15
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (see the docstring).")
    os.environ.setdefault("HOLDFAST_DATA_DIR", tempfile.mkdtemp(prefix="hf-http-bench-"))
    # As in production: DEBUG off (with it on, Django keeps every query's SQL in memory).
    os.environ["DEBUG"] = "false"
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env)
    import django

    from config.env import configure

    configure()
    django.setup()
    from collaboration.models import MessageEvent

    ws, thread, token = _world()
    port = _free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(  # noqa: S603
        [
            str(gunicorn),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path = f"/api/v1/workspaces/{ws.slug}/threads/{thread.pk}/messages/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("gunicorn did not start")
            time.sleep(0.3)
        started = time.monotonic()
        clients = [
            Client(i, port, path, token, started + args.seconds) for i in range(args.clients)
        ]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    posts = [t for c in clients for t in c.latency["post"]]
    reads = [t for c in clients for t in c.latency["read"]]
    errors = [e for c in clients for e in c.errors]
    acked = set().union(*(c.acked for c in clients))
    logged = list(
        MessageEvent.objects.filter(thread=thread, kind="text").values_list("client_id", flat=True)
    )
    lost = acked - set(logged)
    duplicated = len(logged) - len(set(logged))
    total = len(posts) + len(reads)
    print(
        f"{args.clients} clients, {elapsed:.1f} s, gunicorn {args.workers} workers x "
        f"{args.threads} threads on 127.0.0.1"
    )
    print(f"  requests: {total:,} ({total / elapsed:,.0f}/s), errors: {len(errors)}")
    for name, values in (("post", posts), ("read last 50", reads)):
        if values:
            print(
                f"  {name:<13} n={len(values):>6,}  p50 {_pct(values, 0.5):7.1f} ms  "
                f"p99 {_pct(values, 0.99):7.1f} ms  median {statistics.median(values) * 1000:.1f}"
            )
    print(
        f"  reconcile: {len(acked):,} posts acknowledged, {len(logged):,} text events in the "
        f"log, lost {len(lost)}, duplicated {duplicated}, "
        f"unacknowledged but stored {len(set(logged) - acked)}"
    )
    if errors:
        print(f"  first errors: {errors[:3]}")
    if lost or duplicated:
        sys.exit("RECONCILIATION FAILED")


if __name__ == "__main__":
    main()
