"""The chat's materialized view: how events fold into current messages, and its rebuild.

Contract with governance.durability: `rebuild(workspace=None) -> int` regenerates
every derived view of this app (for one workspace, or all) from the event log and
returns the number of rows written; `VIEWS_VERSION` is the version of their shape.
`manage.py rebuild_views` calls the `rebuild` of every app that has this module.

`apply_event` is the one fold both paths use: the posting services apply each new
event to its message row in the same transaction, and `rebuild` replays the log.
"""

from __future__ import annotations

from django.db import transaction

VIEWS_VERSION = 1

# Fields of Message the events determine (id included); what "rebuilt equals
# maintained" compares. created_at/updated_at only say when the row was written.
VIEW_FIELDS = (
    "id",
    "thread_id",
    "seq",
    "author_id",
    "body",
    "client_id",
    "posted_at",
    "edited",
    "edited_at",
    "deleted",
    "deleted_at",
    "reactions",
    "last_event_seq",
)

# What apply_event reads from an event.
EVENT_FIELDS = (
    "thread_id",
    "seq",
    "kind",
    "message_id",
    "author_id",
    "body",
    "emoji",
    "removed",
    "client_id",
    "created_at",
)

BATCH = 2000


def apply_event(message, event):
    """Fold one event into `message` (a Message, or None before its text event).

    Returns the Message to store. Pure apart from building the instance: no I/O.
    """
    from .models import EventKind, Message

    if event.kind == EventKind.TEXT:
        return Message(
            id=event.message_id,
            thread_id=event.thread_id,
            seq=event.seq,
            author_id=event.author_id,
            body=event.body,
            client_id=event.client_id,
            posted_at=event.created_at,
            reactions={},
            last_event_seq=event.seq,
        )
    if message is None:  # an event for a message this log never started: ignore it
        return None
    if event.kind == EventKind.EDIT and not message.deleted:
        message.body = event.body
        message.edited = True
        message.edited_at = event.created_at
    elif event.kind == EventKind.DELETE and not message.deleted:
        message.body = ""
        message.deleted = True
        message.deleted_at = event.created_at
        message.reactions = {}
    elif event.kind == EventKind.REACTION and not message.deleted:
        message.reactions = fold_reaction(
            message.reactions, event.emoji, str(event.author_id), removed=event.removed
        )
    message.last_event_seq = event.seq
    return message


def fold_reaction(reactions: dict, emoji: str, user_id: str, *, removed: bool) -> dict:
    users = set(reactions.get(emoji, []))
    if removed:
        users.discard(user_id)
    else:
        users.add(user_id)
    out = {k: v for k, v in reactions.items() if k != emoji}
    if users:
        out[emoji] = sorted(users)
    return dict(sorted(out.items()))


def rebuild_thread(thread) -> int:
    """Replace one thread's messages with a replay of its events. Call inside atomic()."""
    from .models import Message, MessageEvent

    messages: dict = {}
    # Named rows, not model instances: the fold reads attributes only, and this is faster.
    events = (
        MessageEvent.objects.filter(thread=thread)
        .order_by("seq")
        .values_list(*EVENT_FIELDS, named=True)
    )
    for event in events.iterator(chunk_size=BATCH):
        folded = apply_event(messages.get(event.message_id), event)
        if folded is not None:
            messages[event.message_id] = folded
    Message.objects.filter(thread=thread).delete()
    rows = sorted(messages.values(), key=lambda m: m.seq)
    Message.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


def rebuild(workspace=None) -> int:
    """Regenerate the Message view of `workspace` (or of every workspace) from events."""
    from .models import Thread

    threads = Thread.objects.order_by("created_at", "pk")
    if workspace is not None:
        threads = threads.filter(workspace=workspace)
    written = 0
    for thread_id in threads.values_list("pk", flat=True):
        with transaction.atomic():
            # Lock the thread so no post lands between the replay and the swap.
            thread = Thread.objects.select_for_update().get(pk=thread_id)
            written += rebuild_thread(thread)
    return written


def view_snapshot(workspace=None) -> list[tuple]:
    """The view's rows as comparable tuples, in (thread, seq) order."""
    from .models import Message

    rows = Message.objects.order_by("thread_id", "seq")
    if workspace is not None:
        rows = rows.filter(thread__workspace=workspace)
    return list(rows.values_list(*VIEW_FIELDS))
