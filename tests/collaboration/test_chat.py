"""Chat: the event log (seq, client_id, immutability) and the view it maintains."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from collaboration import services
from collaboration.models import EventKind, Message, MessageEvent, Thread
from common.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from governance.immutability import is_immutable
from tests.tenancy import make_tenant_world

from .helpers import add_member, make_thread, post


@pytest.fixture
def thread(world):
    return make_thread(world)


def test_seq_is_gapless_per_thread_across_kinds(world, thread):
    other = make_thread(world, title="Other")
    a = post(thread, world.member, "a")
    post(other, world.member, "elsewhere")
    services.message_edit(thread=thread, message_id=a.pk, body="a!", actor=world.member)
    services.message_react(thread=thread, message_id=a.pk, emoji="ok", actor=world.owner)
    post(thread, world.owner, "b")
    services.message_delete(thread=thread, message_id=a.pk, actor=world.member)
    seqs = list(MessageEvent.objects.filter(thread=thread).values_list("seq", "kind"))
    assert seqs == [(1, "text"), (2, "edit"), (3, "reaction"), (4, "text"), (5, "delete")]
    assert list(MessageEvent.objects.filter(thread=other).values_list("seq", flat=True)) == [1]
    thread.refresh_from_db()
    assert thread.last_seq == 5


def test_retry_with_same_client_id_creates_nothing(world, thread):
    first, created = services.message_post(
        thread=thread, body="hi", client_id="k1", actor=world.member
    )
    again, created_again = services.message_post(
        thread=thread, body="hi", client_id="k1", actor=world.member
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert MessageEvent.objects.filter(thread=thread).count() == 1
    thread.refresh_from_db()
    assert thread.last_seq == 1
    # The same client_id in another thread is a different message.
    other = make_thread(world, title="Other")
    elsewhere, created_other = services.message_post(
        thread=other, body="hi", client_id="k1", actor=world.member
    )
    assert created_other and elsewhere.pk != first.pk


def test_database_refuses_duplicate_seq_and_client_id(world, thread):
    message = post(thread, world.member, "x", client_id="c")
    event = MessageEvent.objects.get(message_id=message.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageEvent.objects.create(
            thread=thread,
            seq=event.seq,
            kind=EventKind.TEXT,
            message_id=message.pk,
            author=world.member,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageEvent.objects.create(
            thread=thread,
            seq=99,
            kind=EventKind.TEXT,
            message_id=message.pk,
            author=world.member,
            client_id="c",
        )


def test_view_follows_edit_delete_and_reactions(world, thread):
    message = post(thread, world.member, "draft")
    services.message_edit(thread=thread, message_id=message.pk, body="final", actor=world.member)
    services.message_react(thread=thread, message_id=message.pk, emoji="tada", actor=world.owner)
    services.message_react(thread=thread, message_id=message.pk, emoji="tada", actor=world.admin)
    services.message_react(
        thread=thread, message_id=message.pk, emoji="tada", actor=world.owner, removed=True
    )
    row = Message.objects.get(pk=message.pk)
    assert (row.body, row.edited, row.deleted) == ("final", True, False)
    assert row.reactions == {"tada": [str(world.admin.pk)]}
    assert row.last_event_seq == 5
    services.message_delete(thread=thread, message_id=message.pk, actor=world.member)
    row.refresh_from_db()
    assert (row.body, row.deleted, row.reactions) == ("", True, {})
    with pytest.raises(Conflict):
        services.message_react(thread=thread, message_id=message.pk, emoji="x", actor=world.owner)
    # Deleting twice records nothing new.
    services.message_delete(thread=thread, message_id=message.pk, actor=world.member)
    assert MessageEvent.objects.filter(thread=thread).count() == 6


def test_permissions_and_missing_messages(world, thread):
    message = post(thread, world.member, "mine")
    with pytest.raises(Forbidden):
        services.message_edit(thread=thread, message_id=message.pk, body="x", actor=world.owner)
    with pytest.raises(Forbidden):
        services.message_delete(thread=thread, message_id=message.pk, actor=add_member(world))
    other = make_thread(world, title="Other")
    with pytest.raises(NotFound):  # a message is found only in its own thread
        services.message_edit(thread=other, message_id=message.pk, body="x", actor=world.member)
    with pytest.raises(ValidationFailed):
        services.message_react(thread=thread, message_id=message.pk, emoji="a b", actor=world.owner)
    with pytest.raises(ValidationFailed):  # PostgreSQL text cannot hold NUL: 400, not 500
        services.message_post(thread=thread, body="a\x00b", actor=world.member)
    assert MessageEvent.objects.filter(thread=thread).count() == 1


def test_events_table_carries_the_immutability_triggers(world):
    assert is_immutable("collaboration_messageevent")
    assert is_immutable("collaboration_historicalcomment")
    assert is_immutable("collaboration_historicalthread")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE collaboration_messageevent SET body = 'rewritten'",
        "DELETE FROM collaboration_messageevent",
    ],
)
def test_raw_sql_update_and_delete_on_events_are_refused(world, thread, sql):
    post(thread, world.member, "on the record")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert list(MessageEvent.objects.values_list("body", flat=True)) == ["on the record"]


@pytest.mark.django_db(transaction=True)
def test_truncate_on_events_is_refused_on_postgres(postgres_only):
    # Committed rows: a TRUNCATE in the inserting transaction fails earlier, for another reason.
    world = make_tenant_world()
    post(make_thread(world), world.member, "on the record")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE collaboration_messageevent CASCADE")
    assert MessageEvent.objects.count() == 1


def test_orm_delete_of_a_thread_with_events_is_refused(world, thread):
    post(thread, world.member, "keep me")
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        Thread.objects.filter(pk=thread.pk).delete()
    assert MessageEvent.objects.filter(thread=thread).count() == 1


def test_next_seq_comes_from_the_log_even_if_the_cached_counter_is_stale(world, thread):
    post(thread, world.member, "one")
    post(thread, world.member, "two")
    Thread.objects.filter(pk=thread.pk).update(last_seq=0)  # e.g. a thread reverted from history
    third = post(thread, world.member, "three")
    assert third.seq == 3
    assert Thread.objects.get(pk=thread.pk).last_seq == 3


def test_only_the_sanctioned_purge_removes_a_workspaces_chat(world, thread):
    from django.db.models import ProtectedError, RestrictedError

    from collaboration.models import Comment, Notification
    from governance.immutability import allow_purge
    from tests.tenancy import make_tenant_world
    from workspaces.models import Workspace

    from .helpers import make_project

    other = make_tenant_world()
    kept = post(make_thread(other), other.member, "theirs")
    project = make_project(world)
    parent = services.comment_create(
        workspace=world.workspace, project=project, body="p", actor=world.member
    )
    services.comment_create(
        workspace=world.workspace, project=project, body="r", actor=world.member, parent=parent
    )
    make_thread(world, project=project)
    post(thread, world.member, "ours")
    with pytest.raises((DatabaseError, ProtectedError, RestrictedError)), transaction.atomic():
        Workspace.objects.filter(pk=world.workspace.pk).delete()  # triggers refuse the events
    assert MessageEvent.objects.filter(thread=thread).count() == 1
    with transaction.atomic(), allow_purge():
        Workspace.objects.filter(pk=world.workspace.pk).delete()
    assert not Thread.objects.filter(workspace_id=world.workspace.pk).exists()
    assert not MessageEvent.objects.filter(thread_id=thread.pk).exists()
    assert not Comment.objects.filter(workspace_id=world.workspace.pk).exists()
    assert not Notification.objects.filter(workspace_id=world.workspace.pk).exists()
    assert MessageEvent.objects.filter(message_id=kept.pk).count() == 1


def test_services_refuse_text_a_database_cannot_store(world, thread):
    # The API's serializers refuse these too; services guard callers that bypass the API.
    for bad in ("a\x00b", "lone \ud800"):
        with pytest.raises(ValidationFailed):
            services.message_post(thread=thread, body=bad, actor=world.member)
    assert MessageEvent.objects.filter(thread=thread).count() == 0
