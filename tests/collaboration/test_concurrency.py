"""16 writers posting to one thread at once, each on its own database connection."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import close_old_connections, connection, connections

from collaboration import services
from collaboration.models import Message, MessageEvent, Thread
from tests.tenancy import make_tenant_world

WRITERS = 16
PER_WRITER = 8


def _run_writers(target) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)

    def worker(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # reported by the test, not swallowed
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    close_old_connections()
    return errors


@pytest.mark.django_db(transaction=True)
def test_16_concurrent_writers_get_gapless_seqs_and_lose_nothing(postgres_only):
    world = make_tenant_world()
    thread = services.thread_create(workspace=world.workspace, title="busy", actor=world.owner)
    users = [world.owner, world.admin, world.member]

    def write(i):
        for n in range(PER_WRITER):
            services.message_post(
                thread=thread, body=f"w{i}-{n}", client_id=f"w{i}-{n}", actor=users[i % 3]
            )

    errors = _run_writers(write)
    assert errors == []
    total = WRITERS * PER_WRITER
    seqs = list(MessageEvent.objects.filter(thread=thread).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, total + 1))
    bodies = set(Message.objects.filter(thread=thread).values_list("body", flat=True))
    assert bodies == {f"w{i}-{n}" for i in range(WRITERS) for n in range(PER_WRITER)}
    assert Thread.objects.get(pk=thread.pk).last_seq == total

    # Every writer now retries every post at once: nothing new is created.
    def retry(i):
        for n in range(PER_WRITER):
            key = f"w{(i + n) % WRITERS}-{n}"
            _, created = services.message_post(
                thread=thread, body=key, client_id=key, actor=users[i % 3]
            )
            assert not created

    assert _run_writers(retry) == []
    assert MessageEvent.objects.filter(thread=thread).count() == total
    assert Message.objects.filter(thread=thread).count() == total


def test_16_concurrent_writers_on_a_sqlite_file_database(tmp_path):
    """The embedded default: a real SQLite file, IMMEDIATE transactions, its own process."""
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite leg covers the embedded default")
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(HOLDFAST_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings.local")
    run = [sys.executable, "manage.py", "migrate", "-v0"]
    subprocess.run(run, cwd=root, env=env, check=True, timeout=300)
    script = Path(__file__).with_name("sqlite_writers.py")
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["vendor"] == "sqlite"
    assert result["errors"] == []
    assert result["seqs"] == list(range(1, 16 * 5 + 1))  # the retries added nothing
    assert result["messages"] == 16 * 5
