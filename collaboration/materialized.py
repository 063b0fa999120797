"""The chat's materialized view: how events fold into current messages, and its rebuild.

Contract with durability: `rebuild(workspace=None) -> int` regenerates
every derived view of this app (for one workspace, or all) from the event log and
returns the number of rows the rebuilt views hold (on PostgreSQL only the rows that
differ are rewritten); `VIEWS_VERSION` is the version of their shape; `VIEW_MODELS`
names the models it regenerates.
`manage.py rebuild_views` calls the `rebuild` of every app that has this module.

A rebuild that deletes view rows a replay does not give back records a `views_rebuild`
audit event in the transaction that deletes them: a delta backup counts a view only when
its count may have moved (`durability.services.scope._DeltaSql.view_settled`), and that
event is how it learns of a delete no row of the view shows.

`apply_event` is the one fold both paths use: the posting services apply each new
event to its message row in the same transaction, and `rebuild` replays the log.
"""

from __future__ import annotations

from django.db import transaction

VIEWS_VERSION = 1

# The models `rebuild` regenerates. A delta backup lists no keys of them (only their
# count): their rows are deleted only by a rebuild or a purge, and a restore that finds
# a count off regenerates them from the events instead.
VIEW_MODELS = ("collaboration.Message",)

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
    """Replace one thread's messages with a replay of its events. Call inside atomic().

    Works in chunks of BATCH messages (their text events by seq, then every later event
    of those messages via the (message_id, seq) index), so memory stays bounded however
    long the thread is. Each message's events are folded in seq order starting from its
    text event, which is exactly what a single pass over the whole log would do.
    """
    from .models import EventKind, Message, MessageEvent

    removed, _ = Message.objects.filter(thread=thread).delete()
    events = MessageEvent.objects.filter(thread=thread)
    written, after = 0, 0
    while True:
        texts = list(
            events.filter(kind=EventKind.TEXT, seq__gt=after)
            .order_by("seq")
            .values_list(*EVENT_FIELDS, named=True)[:BATCH]
        )
        if not texts:
            if removed > written:  # rows gone for good: the view's count went down
                _record_rebuild(thread.workspace, removed - written, written)
            return written
        after = texts[-1].seq
        messages = {e.message_id: apply_event(None, e) for e in texts}
        later = (
            events.filter(message_id__in=list(messages))
            .exclude(kind=EventKind.TEXT)
            .order_by("seq")
            .values_list(*EVENT_FIELDS, named=True)
        )
        for event in later:
            message = messages[event.message_id]
            if event.seq > message.seq:  # an event before its message began is ignored
                messages[event.message_id] = apply_event(message, event)
        Message.objects.bulk_create(list(messages.values()), batch_size=BATCH)
        written += len(messages)


def _record_rebuild(workspace, removed: int, rows: int) -> None:
    """The audit event of a rebuild that deleted view rows (None: every workspace's)."""
    from governance.models import AuditAction
    from governance.services import audit_record

    scope = f"workspace {workspace.slug}" if workspace is not None else "every workspace"
    audit_record(
        action=AuditAction.VIEWS_REBUILD,
        summary=f"Chat view rebuilt for {scope}: {removed} rows deleted, {rows} rows rebuilt",
        workspace=workspace,
        data={"view": "collaboration.Message", "deleted": removed, "rows": rows},
    )


def rebuild(workspace=None) -> int:
    """Regenerate the Message view of `workspace` (or of every workspace) from events.

    On PostgreSQL the set-based `rebuild_sql` (a few statements per call); elsewhere the Python
    replay (`rebuild_python`), which stays the reference the SQL is tested against.
    """
    from django.db import connections

    from .models import Message

    if connections[Message.objects.db].vendor == "postgresql":
        return rebuild_sql(workspace)
    return rebuild_python(workspace)


# The fold of `apply_event`, as one SELECT over the whole event log:
# per message, its text event; the first delete after it; the events before that delete
# ("live": edits and reactions after a delete are ignored, as the fold ignores them); the
# last live edit; the last live reaction event of each (emoji, user) says whether that user
# is in; last_event_seq is the last event of any kind after the text. User ids are sorted
# bytewise (COLLATE "C"), as Python's sorted() does.
FOLD_SQL = """
WITH t AS (
    SELECT e.* FROM {events} e
    WHERE e.kind = 'text' AND e.thread_id IN (SELECT id FROM locked)
), later AS (
    SELECT l.* FROM {events} l
    JOIN t ON l.thread_id = t.thread_id AND l.message_id = t.message_id AND l.seq > t.seq
    WHERE l.kind <> 'text'
), del AS (
    SELECT DISTINCT ON (message_id) message_id, seq, created_at FROM later
    WHERE kind = 'delete' ORDER BY message_id, seq
), live AS (
    SELECT later.* FROM later LEFT JOIN del ON del.message_id = later.message_id
    WHERE del.seq IS NULL OR later.seq < del.seq
), last_edit AS (
    SELECT DISTINCT ON (message_id) message_id, body, created_at FROM live
    WHERE kind = 'edit' ORDER BY message_id, seq DESC
), react_last AS (
    SELECT DISTINCT ON (message_id, emoji, author_id) message_id, emoji, author_id, removed
    FROM live WHERE kind = 'reaction' ORDER BY message_id, emoji, author_id, seq DESC
), react AS (
    SELECT message_id, jsonb_object_agg(emoji, users) AS reactions FROM (
        SELECT message_id, emoji,
               jsonb_agg(author_id::text ORDER BY author_id::text COLLATE "C") AS users
        FROM react_last WHERE NOT removed GROUP BY message_id, emoji
    ) per_emoji GROUP BY message_id
), last_seq AS (
    SELECT message_id, MAX(seq) AS seq FROM later GROUP BY message_id
)
SELECT t.message_id AS id, t.thread_id, t.seq, t.author_id,
    CASE WHEN del.seq IS NOT NULL THEN '' ELSE COALESCE(le.body, t.body) END AS body,
    t.client_id, t.created_at AS posted_at,
    le.message_id IS NOT NULL AS edited, le.created_at AS edited_at,
    del.seq IS NOT NULL AS deleted, del.created_at AS deleted_at,
    CASE WHEN del.seq IS NOT NULL THEN '{{}}'::jsonb
         ELSE COALESCE(r.reactions, '{{}}'::jsonb) END AS reactions,
    COALESCE(ls.seq, t.seq) AS last_event_seq
FROM t
LEFT JOIN del ON del.message_id = t.message_id
LEFT JOIN last_edit le ON le.message_id = t.message_id
LEFT JOIN react r ON r.message_id = t.message_id
LEFT JOIN last_seq ls ON ls.message_id = t.message_id
"""

# VIEW_FIELDS as columns of both the view and the fold (the staging table).
_COLUMNS = {"thread_id": "thread_id", "author_id": "author_id"}
_NULLABLE = ("edited_at", "deleted_at")


def rebuild_sql(workspace=None) -> int:
    """The set-based rebuild (PostgreSQL): lock the threads, refold, write the difference.

    One transaction, a handful of statements whatever the size: the threads of
    `workspace` (or all) are locked. When they have no view rows (a restore, an emptied
    view) the fold is inserted in one INSERT ... SELECT. Otherwise the fold of their whole
    log goes into a temporary staging table (not logged, dropped at the end); view rows
    that are not exactly a folded row are deleted; folded rows the view lacks are
    inserted. A current view is compared and left alone (its rows are neither rewritten
    nor re-checked by foreign-key triggers); a stale one gets exactly the rows it misses.
    Returns the number of rows the rebuilt view holds for those threads, what a full
    rewrite writes.
    """
    from django.db import connections

    from .models import Message, MessageEvent, Thread

    connection = connections[Message.objects.db]
    quote = connection.ops.quote_name
    threads = quote(Thread._meta.db_table)
    messages = quote(Message._meta.db_table)
    where, params = (
        ("WHERE workspace_id = %s", [workspace.pk]) if workspace is not None else ("", [])
    )
    locked = f"SELECT id FROM {threads} {where}"  # noqa: S608
    fold = FOLD_SQL.format(events=quote(MessageEvent._meta.db_table))
    fold = f"WITH locked AS ({locked}), " + fold.lstrip().removeprefix("WITH ")
    cols = [Message._meta.get_field(f.removesuffix("_id") if f in _COLUMNS else f).column
            for f in VIEW_FIELDS]  # fmt: skip
    same = " AND ".join(
        f"f.{quote(c)} IS NOT DISTINCT FROM m.{quote(c)}" if c in _NULLABLE
        else f"f.{quote(c)} = m.{quote(c)}"
        for c in cols
    )  # fmt: skip
    names = ", ".join(quote(c) for c in cols)
    stage = "collaboration_view_fold"
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"{locked} ORDER BY id FOR UPDATE", params)
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {messages} WHERE thread_id IN ({locked}))",  # noqa: S608
            params,
        )
        if not cursor.fetchone()[0]:  # nothing to compare with: the fold goes straight in
            cursor.execute(
                f"INSERT INTO {messages} (created_at, updated_at, {names})"  # noqa: S608
                f" SELECT now(), now(), {names} FROM ({fold}) f",
                params,
            )
            return cursor.rowcount
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{stage}")
        cursor.execute(f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS {fold}", params)
        folded = cursor.rowcount
        cursor.execute(f"ANALYZE pg_temp.{stage}")
        cursor.execute(
            f"DELETE FROM {messages} m WHERE m.thread_id IN ({locked})"  # noqa: S608
            f" AND NOT EXISTS (SELECT 1 FROM pg_temp.{stage} f WHERE {same})",
            params,
        )
        if cursor.rowcount:  # some may come back below; the delta counts the view then
            _record_rebuild(workspace, cursor.rowcount, folded)
        cursor.execute(
            f"INSERT INTO {messages} (created_at, updated_at, {names})"  # noqa: S608
            f" SELECT now(), now(), {names} FROM pg_temp.{stage} f"
            f" WHERE NOT EXISTS (SELECT 1 FROM {messages} m WHERE m.id = f.id)"
        )
        cursor.execute(f"DROP TABLE pg_temp.{stage}")
        return folded


def rebuild_python(workspace=None) -> int:
    """The reference rebuild: each thread's log replayed through `apply_event`."""
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
