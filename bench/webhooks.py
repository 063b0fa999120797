"""Webhook delivery benchmark: N events to a local receiver while the worker is killed.

    createdb -h 127.0.0.1 -U postgres hf_webhooks_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hf_webhooks_bench \\
    REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python bench/webhooks.py [--quick]

Options: --events N (default 10000; --quick: 300), --kill-every SECONDS (mean of the
random gap between SIGKILLs, default 6), --kills K (at most K kills, default 10; --quick
4). Measured in the same run:

1. peer: a bare `httpx` loop POSTing the same N payloads to the same receiver (one
   client, sequential) — deliveries per second.
2. ours: N events written to the outbox (one transaction each, the way producers do),
   sent by a real `celery worker` (prefork, 2 processes) that the benchmark SIGKILLs at
   random moments and restarts; the beat sweep (`webhook_sweep`) runs every second as
   beat would, with a 3 s lease. Deliveries per second from the first event written to
   the last delivery (the outbox write rate is printed apart), lost deliveries (must
   be 0: every event's webhook-id arrives) and duplicates (allowed; each repeats its
   webhook-id — counted per id).

The receiver (127.0.0.1, a thread per request) verifies every signature with the
`standardwebhooks` library. Use a scratch database (dropdb it after).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Receiver(BaseHTTPRequestHandler):
    counts: collections.Counter = collections.Counter()
    first_at: dict[str, float] = {}
    bad_signatures = 0
    lock = threading.Lock()
    secret = ""
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        message_id = self.headers.get("webhook-id", "")
        ok = True
        if self.secret:
            try:
                Webhook(self.secret).verify(body, dict(self.headers))
            except WebhookVerificationError:
                ok = False
        with self.lock:
            self.counts[message_id] += 1
            self.first_at.setdefault(message_id, time.perf_counter())
            if not ok:
                Receiver.bad_signatures += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _setup(env: dict) -> None:
    os.environ.update(env)
    import django

    from config.env import configure

    configure()
    django.setup()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)


def _peer(url: str, payloads: list[bytes]) -> float:
    import httpx

    started = time.perf_counter()
    with httpx.Client(timeout=10) as client:
        for i, body in enumerate(payloads):
            headers = {"webhook-id": f"peer_{i}", "content-type": "application/json"}
            client.post(url, content=body, headers=headers)
    return len(payloads) / (time.perf_counter() - started)


def _worker(env: dict) -> subprocess.Popen:
    celery = str(Path(sys.executable).with_name("celery"))
    return subprocess.Popen(
        [celery, "-A", "config", "worker", "--pool=prefork", "--concurrency=2",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-Q", "celery"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--kill-every", type=float, default=6.0)
    parser.add_argument("--kills", type=int, default=None, help="at most this many SIGKILLs")
    args = parser.parse_args()
    n = 300 if args.quick else args.events
    max_kills = args.kills if args.kills is not None else (4 if args.quick else 10)
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/webhooks.py needs DATABASE_URL and REDIS_URL (a real worker and broker).")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    env = {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "WEBHOOK_LEASE_SECONDS": "3",
           "WEBHOOK_RETRY_SCHEDULE": "1,1,2,2,3,3,5,5,8,8", "DEBUG": "false"}  # fmt: skip
    _setup(env)
    import redis
    from django.db import transaction
    from django.utils import timezone

    from collaboration import webhooks
    from collaboration.models import WebhookDelivery
    from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    tag = str(int(time.time()))
    ws = WorkspaceFactory(slug=f"bench-wh-{tag}")
    admin = UserFactory(handle=f"bench-wh-{tag}", email=f"bench-wh-{tag}@example.com")
    MembershipFactory(team=ws.team, user=admin, role="owner")
    endpoint, secret = webhooks.webhook_create(workspace=ws, url=url, events=["*"], actor=admin)

    payloads = [json.dumps({"type": "backup.completed", "timestamp": timezone.now().isoformat(),
                            "data": {"i": i}}).encode() for i in range(n)]  # fmt: skip
    peer_rate = _peer(url, payloads)
    Receiver.counts.clear()
    Receiver.first_at.clear()
    Receiver.secret = secret

    worker = _worker(env)
    kills = 0
    started = time.perf_counter()
    for i in range(n):
        with transaction.atomic():
            webhooks.webhook_outbox_write(workspace_id=ws.pk, event_type="backup.completed",
                                          data={"i": i})  # fmt: skip
    written = time.perf_counter() - started
    ids = set(
        WebhookDelivery.objects.filter(endpoint=endpoint).values_list("message_id", flat=True)
    )
    next_kill = time.perf_counter() + random.expovariate(1 / args.kill_every)  # noqa: S311
    next_sweep = time.perf_counter() + 1
    deadline = time.perf_counter() + max(600, n / 2)
    while time.perf_counter() < deadline:
        with Receiver.lock:
            arrived = ids & set(Receiver.counts)
        if len(arrived) == len(ids):
            break
        now = time.perf_counter()
        if now >= next_kill and kills < max_kills and len(arrived) < 0.9 * len(ids):
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = _worker(env)
            next_kill = now + random.expovariate(1 / args.kill_every)  # noqa: S311
        if now >= next_sweep:
            webhooks.webhook_sweep()
            next_sweep = now + 1
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)
    with Receiver.lock:
        counts = dict(Receiver.counts)
        arrivals = sorted(t for mid, t in Receiver.first_at.items() if mid in ids)
    lost = len(ids - set(counts))  # after the deadline: never arrived
    duplicates = sum(c - 1 for mid, c in counts.items() if mid in ids and c > 1)
    delivered = WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count()
    print(f"events: {n}  (outbox writes: {written:.1f} s, {n / written:.0f}/s)")
    print(f"peer  bare httpx loop:           {peer_rate:8.1f} deliveries/s")
    print(f"ours  outbox + celery, {kills:2d} SIGKILLs: {n / elapsed:8.1f} deliveries/s"
          f"  ({elapsed:.1f} s end to end)")  # fmt: skip
    print(f"ratio ours / peer: {n / elapsed / peer_rate:.2f}")
    if len(arrivals) > 1:
        # The sending rate alone: first to last arrival (no outbox writes, no worker start).
        rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
        print(f"ours  sending only (first to last arrival): {rate:8.1f} deliveries/s"
              f"  ratio to peer {rate / peer_rate:.2f}")  # fmt: skip
    print(
        f"lost: {lost}   duplicates: {duplicates} (each with its webhook-id)   "
        f"bad signatures: {Receiver.bad_signatures}   rows delivered: {delivered}/{n}"
    )
    server.shutdown()
    if lost:
        sys.exit(1)


if __name__ == "__main__":
    main()
