"""Run as a script: 16 threads post to one thread of a migrated SQLite file database.

Used by test_concurrency.py to check the embedded default (IMMEDIATE transactions,
WAL, busy timeout) keeps seq gapless; prints one JSON line with what it found.
"""

import json
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402

from collaboration import services  # noqa: E402
from collaboration.models import Message, MessageEvent  # noqa: E402
from tests.tenancy import make_tenant_world  # noqa: E402

WRITERS, PER_WRITER = 16, 5


def main() -> None:
    world = make_tenant_world()
    thread = services.thread_create(workspace=world.workspace, title="busy", actor=world.owner)
    barrier = threading.Barrier(WRITERS)
    errors = []

    def worker(i):
        try:
            barrier.wait()
            for n in range(PER_WRITER):
                key = f"w{i}-{n}"
                services.message_post(thread=thread, body=key, client_id=key, actor=world.member)
        except Exception as exc:  # reported in the output, not swallowed
            errors.append(repr(exc))
        finally:
            connections.close_all()

    for _attempt in ("first", "retry"):
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    seqs = sorted(MessageEvent.objects.filter(thread=thread).values_list("seq", flat=True))
    print(
        json.dumps(
            {
                "errors": errors,
                "seqs": seqs,
                "messages": Message.objects.filter(thread=thread).count(),
                "vendor": connections["default"].vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
