"""The set-based view rebuild (PostgreSQL) against the Python fold, on arbitrary event logs:
edits after deletes, reactions taken back twice, events for messages never started."""

import datetime
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collaboration import materialized
from collaboration.models import EventKind, Message, MessageEvent, Thread

from .helpers import make_thread

EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["text", "edit", "delete", "reaction", "unreaction", "orphan"]),
        st.integers(min_value=0, max_value=6),  # which message
        st.integers(min_value=0, max_value=2),  # which user
        st.sampled_from(["ok", "tada", ":+1:", "Ω"]),
        st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=12),
    ),
    min_size=1,
    max_size=60,
)


def _log(thread, users, steps):
    """Write an event log straight into the table (any order a log could hold)."""
    started: list[uuid.UUID] = []
    rows = []
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for seq, (kind, which, who, emoji, body) in enumerate(steps, start=1):
        at += datetime.timedelta(seconds=1)
        if kind == "text" or (not started and kind != "orphan"):
            message_id = uuid.uuid4()
            started.append(message_id)
            kind = EventKind.TEXT
        elif kind == "orphan":
            message_id, kind = uuid.uuid4(), EventKind.EDIT
        else:
            message_id = started[which % len(started)]
        removed = kind == "unreaction"
        if kind in ("reaction", "unreaction"):
            kind = EventKind.REACTION
        rows.append(
            MessageEvent(
                thread=thread,
                seq=seq,
                kind=kind,
                message_id=message_id,
                author=users[who],
                body=body if kind in (EventKind.TEXT, EventKind.EDIT) else "",
                emoji=emoji if kind == EventKind.REACTION else "",
                removed=removed,
                created_at=at,
            )
        )
    MessageEvent.objects.bulk_create(rows)
    Thread.objects.filter(pk=thread.pk).update(last_seq=len(rows))


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=EVENTS, second=EVENTS)
def test_the_sql_rebuild_equals_the_python_fold(postgres_only, world, steps, second):
    users = [world.owner, world.admin, world.member]
    _log(make_thread(world, actor=world.owner), users, steps)
    _log(make_thread(world, actor=world.owner), users, second)
    by_python = materialized.rebuild_python(world.workspace)
    reference = materialized.view_snapshot(world.workspace)
    by_sql = materialized.rebuild_sql(world.workspace)
    assert by_sql == by_python == len(reference)
    assert materialized.view_snapshot(world.workspace) == reference
    # The SQL writes only the difference: a view partly missing, partly stale, with a
    # row no event explains, and then an empty one, both come back equal to the fold.
    view = Message.objects.filter(thread__workspace=world.workspace)
    ids = list(view.order_by("thread_id", "seq").values_list("pk", flat=True))
    Message.objects.filter(pk__in=ids[::3]).delete()
    Message.objects.filter(pk__in=ids[1::3]).update(
        body="stale", reactions={"x": ["y"]}, edited_at=at_epoch(), last_event_seq=0
    )
    stray = make_thread(world, actor=world.owner)
    Message.objects.create(
        id=uuid.uuid4(), thread=stray, seq=1, author=world.owner, body="no event says so",
        posted_at=at_epoch(), last_event_seq=1,
    )  # fmt: skip
    assert materialized.rebuild_sql(world.workspace) == len(reference)
    assert materialized.view_snapshot(world.workspace) == reference
    view.delete()
    assert materialized.rebuild_sql(world.workspace) == len(reference)
    assert materialized.view_snapshot(world.workspace) == reference
    view.delete()


def at_epoch():
    return datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.mark.django_db
def test_the_sql_rebuild_touches_only_its_workspace(postgres_only, world):
    from tests.tenancy import make_tenant_world

    other = make_tenant_world()
    _log(make_thread(world), [world.owner], [("text", 0, 0, "ok", "mine")])
    _log(make_thread(other), [other.owner], [("text", 0, 0, "ok", "theirs")])
    materialized.rebuild_python(other.workspace)
    Message.objects.filter(thread__workspace=other.workspace).update(body="corrupt")
    assert materialized.rebuild(world.workspace) == 1  # PostgreSQL: the SQL path
    assert Message.objects.get(thread__workspace=world.workspace).body == "mine"
    assert Message.objects.get(thread__workspace=other.workspace).body == "corrupt"
