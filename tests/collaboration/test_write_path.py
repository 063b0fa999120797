"""The chat write path: how many statements a post costs, and that the one-statement
PostgreSQL path writes exactly what the ORM path (and the fold) would."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collaboration import materialized, services
from collaboration.models import Message, MessageEvent, Thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(world):
    return services.thread_create(workspace=world.workspace, title="General", actor=world.owner)


def _post_statements(thread, actor, **kwargs):
    with CaptureQueriesContext(connection) as captured:
        message, created = services.message_post(thread=thread, actor=actor, **kwargs)
    assert created
    return message, [q["sql"] for q in captured.captured_queries]


# Two reads come first on every post, before the thread is locked: is the author muted or
# their `chat` capability revoked (one statement on accounts' moderation log with the
# capability denial as a subquery) and is the thread private (its participants). They are the
# safety checks of issue 15 and are counted apart from the write path.
CHECKS = ('FROM "accounts_moderationaction"', 'FROM "collaboration_threadparticipant"')
# One more read, after the write: does the workspace have an active webhook endpoint
# subscribed to `message.created` (the outbox of issue 16)? Without one, that read is all
# a post pays for webhooks; with one, the delivery row is one insert more.
OUTBOX = 'FROM "collaboration_webhookendpoint"'


def _writes(statements):
    checks = [s for s in statements if any(c in s for c in CHECKS)]
    assert len(checks) == 2, checks
    outbox = [s for s in statements if OUTBOX in s]
    assert len(outbox) == 1, outbox
    return [
        s
        for s in statements
        if not s.startswith(("SAVEPOINT", "RELEASE")) and s not in checks and s not in outbox
    ]


def test_a_post_costs_two_statements_on_postgresql_and_five_elsewhere(world, thread):
    services.message_post(thread=thread, body="warm", actor=world.owner)  # a first post
    message, statements = _post_statements(thread, world.owner, body="hello")
    writes = _writes(statements)
    if connection.vendor == "postgresql":
        # the thread lock, then seq + last_seq + event + view row in one statement
        assert len(writes) == 2, writes
        assert "FOR UPDATE" in writes[0] and writes[1].startswith("WITH s AS (UPDATE")
    else:
        # lock, next seq, last_seq, event, view row (the ORM path)
        assert len(writes) == 5, writes
    assert message.seq == 2
    with_client = _post_statements(thread, world.owner, body="again", client_id="c-1")[1]
    assert len(_writes(with_client)) == (3 if connection.vendor == "postgresql" else 6)


def test_a_subscribed_endpoint_adds_one_insert_to_a_post(world, thread, settings):
    from collaboration import webhooks

    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    services.message_post(thread=thread, body="warm", actor=world.owner)
    bare = len(_writes(_post_statements(thread, world.owner, body="a")[1]))
    webhooks.webhook_create(
        workspace=world.workspace, url="http://127.0.0.1:9/h", events=["comment.created"],
        actor=world.owner,
    )  # fmt: skip
    unsubscribed = _writes(_post_statements(thread, world.owner, body="b")[1])
    assert len(unsubscribed) == bare  # another event type: still only the one read
    webhooks.webhook_create(
        workspace=world.workspace, url="http://127.0.0.1:9/h", events=["message.created"],
        actor=world.owner,
    )  # fmt: skip
    subscribed = _writes(_post_statements(thread, world.owner, body="c")[1])
    assert len(subscribed) == bare + 1
    assert 'INSERT INTO "collaboration_webhookdelivery"' in subscribed[-1]


def test_the_posted_rows_equal_what_the_fold_and_a_rebuild_make(world, thread):
    posted = [
        services.message_post(thread=thread, body=f"m{i} ü 'q' \\ {{}}", actor=world.member)[0]
        for i in range(3)
    ]
    services.message_edit(thread=thread, message_id=posted[0].pk, body="edited", actor=world.member)
    services.message_react(thread=thread, message_id=posted[1].pk, emoji="ok", actor=world.owner)
    stored = Message.objects.get(pk=posted[2].pk)
    assert [getattr(stored, f) for f in materialized.VIEW_FIELDS] == [
        getattr(posted[2], f) for f in materialized.VIEW_FIELDS
    ]
    assert Thread.objects.get(pk=thread.pk).last_seq == 5
    assert list(MessageEvent.objects.filter(thread=thread).values_list("seq", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
    ]
    before = materialized.view_snapshot(world.workspace)
    materialized.rebuild(workspace=world.workspace)
    assert materialized.view_snapshot(world.workspace) == before


def test_a_post_bumps_the_threads_updated_at_so_a_delta_sees_last_seq(world, thread):
    before = Thread.objects.get(pk=thread.pk).updated_at
    services.message_post(thread=thread, body="hello", actor=world.owner)
    assert Thread.objects.get(pk=thread.pk).updated_at > before
