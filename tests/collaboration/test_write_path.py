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


# Elsewhere than PostgreSQL two reads come first on every post, before the thread is
# locked: is the author muted or their `chat` capability revoked (one statement on
# accounts' moderation log with the capability denial as a subquery) and is the thread
# private (its participants); one more read after the write asks whether the workspace has
# an active webhook endpoint subscribed to `message.created`. On PostgreSQL all three are
# subqueries of the statement that locks the thread.
CHECKS = ('FROM "accounts_moderationaction"', 'FROM "collaboration_threadparticipant"')
OUTBOX = 'FROM "collaboration_webhookendpoint"'


def _statements(statements):
    return [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]


def _writes(statements):
    checks = [s for s in statements if any(c in s for c in CHECKS)]
    assert len(checks) == 2, checks
    outbox = [s for s in statements if OUTBOX in s]
    assert len(outbox) == 1, outbox
    return [s for s in _statements(statements) if s not in checks and s not in outbox]


def test_a_post_costs_two_statements_on_postgresql_and_five_writes_elsewhere(world, thread):
    services.message_post(thread=thread, body="warm", actor=world.owner)  # a first post
    for kwargs in ({"body": "hello"}, {"body": "again", "client_id": "c-1"}):
        message, statements = _post_statements(thread, world.owner, **kwargs)
        if connection.vendor == "postgresql":
            read, write = _statements(statements)
            # the lock, with every check's facts and the outbox's endpoints as subqueries
            assert read.endswith("FOR UPDATE OF t")
            assert all(c in read for c in CHECKS) and OUTBOX in read
            # the client_id lookup, seq + last_seq + event + view row in one statement
            assert write.startswith("WITH p AS (SELECT message_id")
        else:
            # lock, (client_id lookup,) next seq, last_seq, event, view row (the ORM path)
            assert len(_writes(statements)) == 5 + ("client_id" in kwargs), statements
    assert message.seq == 3


def test_a_subscribed_endpoint_adds_one_insert_to_a_post(world, thread, settings):
    from collaboration import webhooks

    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    services.message_post(thread=thread, body="warm", actor=world.owner)
    bare = len(_statements(_post_statements(thread, world.owner, body="a")[1]))
    webhooks.webhook_create(
        workspace=world.workspace, url="http://127.0.0.1:9/h", events=["comment.created"],
        actor=world.owner,
    )  # fmt: skip
    unsubscribed = _statements(_post_statements(thread, world.owner, body="b")[1])
    assert len(unsubscribed) == bare  # another event type: still only the one read
    webhooks.webhook_create(
        workspace=world.workspace, url="http://127.0.0.1:9/h", events=["message.created"],
        actor=world.owner,
    )  # fmt: skip
    subscribed = _statements(_post_statements(thread, world.owner, body="c")[1])
    assert len(subscribed) == bare + 1
    assert 'INSERT INTO "collaboration_webhookdelivery"' in subscribed[-1]


def test_a_mention_of_no_member_costs_no_statement_on_postgresql(
    world, thread, django_capture_on_commit_callbacks
):
    """The mention pre-check rides on the read: a handle of nobody in the team schedules
    no notification work; a member's handle still notifies them after commit."""
    services.message_post(thread=thread, body="warm", actor=world.owner)
    plain = len(_statements(_post_statements(thread, world.owner, body="a")[1]))
    nobody = _statements(_post_statements(thread, world.owner, body="hi @nobody-here")[1])
    if connection.vendor == "postgresql":
        assert len(nobody) == plain
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.message_post(thread=thread, body=f"hi @{world.member.handle}", actor=world.owner)
    assert len(callbacks) == 1
    assert world.member.notifications.filter(excerpt__contains="hi @").count() == 1


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
