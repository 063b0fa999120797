"""Collaboration writes: comments, threads, chat events (with their view), presence,
notifications.

Rules every function here keeps:
- `@transaction.atomic`, explicit `actor`, `_history_user` set on history-tracked rows.
- A chat change is one new MessageEvent, numbered under a row lock on its thread
  (`select_for_update`; on SQLite the IMMEDIATE transaction serializes writers), and
  the Message view row is updated in the same transaction through
  `materialized.apply_event`, the same fold `rebuild_views` replays.
- Mention notifications are created after commit (`transaction.on_commit`), for
  members of the workspace's team only.
"""

from __future__ import annotations

import re
import uuid

from django.db import connections, models, transaction
from django.utils import timezone

from accounts.models import Role, User, role_at_least
from accounts.selectors import team_role
from common.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from governance.history import save_tracked
from workspaces.models import Project, Workspace

from . import presence, private
from .materialized import apply_event
from .models import (
    Comment,
    EventKind,
    Message,
    MessageEvent,
    Notification,
    NotificationKind,
    Thread,
)
from .webhooks import subscribed_endpoints_sql, webhook_outbox_write

MAX_BODY = 20_000
MENTION = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9_-]{1,38})")


def _clean_body(body: str, *, field: str = "body") -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("This field may not be blank.", field=field)
    if len(body) > MAX_BODY:
        raise ValidationFailed(f"At most {MAX_BODY} characters.", field=field)
    _no_nul(body, field=field)
    return body


def _no_nul(value: str, *, field: str) -> None:
    """Refuse text a database cannot store (NUL on PostgreSQL, lone surrogates anywhere,
    both reachable through JSON escapes) as bad input instead of failing on write."""
    if "\x00" in value:
        raise ValidationFailed("Null characters are not allowed.", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed("This text is not valid Unicode.", field=field) from None


def _is_admin(workspace: Workspace, user: User) -> bool:
    role = team_role(user=user, team_id=workspace.team_id)
    return role is not None and role_at_least(role, Role.ADMIN)


# --- mentions and notifications ----------------------------------------------------------


def mentioned_handles(text: str) -> set[str]:
    return {m.lower() for m in MENTION.findall(text or "")}


def _mentions(text: str, *, actor: User, previous: str = "") -> set[str]:
    handles = mentioned_handles(text) - mentioned_handles(previous)
    handles.discard(actor.handle)
    return handles


def _notify_mentions_on_commit(
    *, workspace: Workspace, actor: User, text: str, previous: str = "", kind: str, **target
) -> None:
    """After commit, notify members mentioned in `text` (and not already in `previous`)."""
    handles = _mentions(text, actor=actor, previous=previous)
    if not handles:
        return
    excerpt = text[:200]

    def send():
        notifications_create_for_mentions(
            workspace=workspace, actor=actor, handles=handles, kind=kind, excerpt=excerpt, **target
        )

    transaction.on_commit(send)


@transaction.atomic
def notifications_create_for_mentions(
    *, workspace: Workspace, actor: User, handles: set[str], kind: str, excerpt: str, **target
) -> list[Notification]:
    """One notification per mentioned handle that belongs to a member of the workspace."""
    recipients = User.objects.filter(
        handle__in=handles, memberships__team_id=workspace.team_id
    ).distinct()
    recipients = private.mention_recipients(recipients, actor=actor, **target)
    return Notification.objects.bulk_create(
        [
            Notification(
                workspace=workspace,
                recipient=user,
                actor=actor,
                kind=kind,
                excerpt=excerpt,
                **target,
            )
            for user in recipients
        ]
    )


@transaction.atomic
def notification_mark_read(*, notification: Notification, actor: User) -> Notification:
    if notification.recipient_id != actor.pk:
        raise Forbidden("This is not your notification.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at", "updated_at"])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, workspace: Workspace, actor: User) -> int:
    """Mark every unread notification of `actor` in `workspace` read; returns how many."""
    now = timezone.now()
    return Notification.objects.filter(
        workspace=workspace, recipient=actor, read_at__isnull=True
    ).update(read_at=now, updated_at=now)


# --- comments ---------------------------------------------------------------------------


@transaction.atomic
def comment_create(
    *, workspace: Workspace, project: Project, body: str, actor: User, parent: Comment | None = None
) -> Comment:
    if project.workspace_id != workspace.pk:
        raise ValidationFailed("No project with this id here.", field="project")
    from accounts.moderation import check_can_write

    check_can_write(actor, chat=False)  # a muted user cannot comment either (403)
    if parent is not None:
        # Fresh and locked: a reply must not land on a comment deleted meanwhile.
        parent = Comment.objects.select_for_update().get(pk=parent.pk)
        if parent.project_id != project.pk:
            raise ValidationFailed("A reply must be on the same project.", field="parent")
        if parent.is_deleted:
            raise ValidationFailed("This comment was deleted.", field="parent")
    comment = Comment(
        workspace=workspace, project=project, parent=parent, author=actor, body=_clean_body(body)
    )
    save_tracked(comment, actor=actor, reason="comment created")
    webhook_outbox_write(
        workspace_id=workspace.pk, event_type="comment.created",
        data={"id": str(comment.pk), "project": str(comment.project_id),
              "author": str(actor.pk), "body": comment.body[:2000]},
    )  # fmt: skip
    _notify_mentions_on_commit(
        workspace=workspace,
        actor=actor,
        text=comment.body,
        kind=NotificationKind.COMMENT_MENTION,
        comment=comment,
    )
    return comment


def _check_comment_author_or_admin(comment: Comment, actor: User) -> None:
    if comment.author_id != actor.pk and not _is_admin(comment.workspace, actor):
        raise Forbidden("Only the author or a workspace admin may change this comment.")


@transaction.atomic
def comment_update(*, comment: Comment, body: str, actor: User) -> Comment:
    comment = Comment.objects.select_for_update().select_related("workspace").get(pk=comment.pk)
    _check_comment_author_or_admin(comment, actor)
    if comment.is_deleted:
        raise Conflict("A deleted comment cannot be edited.")
    from accounts.moderation import check_can_write

    check_can_write(actor, chat=False)  # a muted user cannot rewrite a comment either
    previous = comment.body
    comment.body = _clean_body(body)
    comment.edited_at = timezone.now()
    save_tracked(comment, actor=actor, reason="comment edited", update_fields=["body", "edited_at"])
    _notify_mentions_on_commit(
        workspace=comment.workspace,
        actor=actor,
        text=comment.body,
        previous=previous,
        kind=NotificationKind.COMMENT_MENTION,
        comment=comment,
    )
    return comment


@transaction.atomic
def comment_delete(*, comment: Comment, actor: User) -> Comment:
    """Soft delete: the row stays (replies keep their parent), the text stays in history."""
    comment = Comment.objects.select_for_update().select_related("workspace").get(pk=comment.pk)
    _check_comment_author_or_admin(comment, actor)
    if comment.is_deleted:
        return comment
    comment.body = ""
    comment.is_deleted = True
    comment.deleted_at = timezone.now()
    save_tracked(
        comment,
        actor=actor,
        reason="comment deleted",
        update_fields=["body", "is_deleted", "deleted_at"],
    )
    return comment


# --- threads ----------------------------------------------------------------------------


def _check_can_chat(actor: User) -> None:
    """Creating or renaming a thread, editing a message and reacting say something, as a
    post does: refused (403) for a muted user or one whose `chat` capability was revoked.
    Deleting one's own message stays allowed."""
    from accounts.moderation import check_can_write

    check_can_write(actor, chat=True)


@transaction.atomic
def thread_create(
    *, workspace: Workspace, title: str, actor: User, project: Project | None = None
) -> Thread:
    title = (title or "").strip()
    if not title:
        raise ValidationFailed("This field may not be blank.", field="title")
    _no_nul(title, field="title")
    if project is not None and project.workspace_id != workspace.pk:
        raise ValidationFailed("No project with this id here.", field="project")
    _check_can_chat(actor)
    thread = Thread(workspace=workspace, project=project, title=title[:200], created_by=actor)
    save_tracked(thread, actor=actor, reason="thread created")
    return thread


@transaction.atomic
def thread_update(*, thread: Thread, title: str, actor: User) -> Thread:
    title = (title or "").strip()
    if not title:
        raise ValidationFailed("This field may not be blank.", field="title")
    _no_nul(title, field="title")
    _check_can_chat(actor)
    thread = Thread.objects.select_for_update().get(pk=thread.pk)
    thread.title = title[:200]
    save_tracked(thread, actor=actor, reason="thread renamed", update_fields=["title"])
    return thread


# --- chat events ------------------------------------------------------------------------


def _append_event(*, thread: Thread, kind: str, message_id, actor: User, **fields) -> MessageEvent:
    """Give the event the next seq of its thread (locked by the caller) and store it.

    The next seq comes from the event log itself (one backward step on the (thread, seq)
    index), so it stays right even if `last_seq`, a cache, were ever stale.
    """
    last = (
        MessageEvent.objects.filter(thread=thread)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    seq = (last or 0) + 1
    thread.last_seq = seq
    # A derived counter kept out of history; a plain UPDATE under the row lock.
    Thread.objects.filter(pk=thread.pk).update(last_seq=seq, updated_at=timezone.now())
    return MessageEvent.objects.create(
        thread=thread, seq=seq, kind=kind, message_id=message_id, author=actor, **fields
    )


# Fields whose Python value psycopg adapts as it is (the INSERT casts every value to the
# column's type): for these get_db_prep_save hands the value back unchanged on
# PostgreSQL (str, bool, int, UUID, an aware datetime). Others (JSON) go through it.
_AS_IS = (
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.IntegerField,
    models.UUIDField,
    models.DateTimeField,
    models.ForeignKey,
)
_INSERT_PLANS: dict[tuple, tuple[str, str, list]] = {}


def _insert_plan(model, connection, seq_from: str | None) -> tuple[str, str, list]:
    quote = connection.ops.quote_name
    columns, values, fields = [], [], []
    for f in model._meta.concrete_fields:
        columns.append(quote(f.column))
        if seq_from is not None and f.attname in ("seq", "last_event_seq"):
            values.append(seq_from)
            continue
        values.append(f"CAST(%s AS {f.db_type(connection)})")
        fields.append((f.attname, None if isinstance(f, _AS_IS) else f))
    return ", ".join(columns), ", ".join(values), fields


def _insert_values(obj, connection, *, seq_from: str | None = None) -> tuple[str, str, list]:
    """(column list, value list, params) to INSERT `obj`; `seq` columns read `seq_from`.
    The SQL and how each field's value is prepared are worked out once per model."""
    key = (type(obj), connection.alias, seq_from)
    plan = _INSERT_PLANS.get(key) or _INSERT_PLANS.setdefault(
        key, _insert_plan(type(obj), connection, seq_from)
    )
    columns, values, fields = plan
    params = [
        getattr(obj, name) if f is None else f.get_db_prep_save(getattr(obj, name), connection)
        for name, f in fields
    ]
    return columns, values, params


def _append_text_and_view(*, thread: Thread, actor: User, body: str, client_id: str) -> Message:
    """Append a text event and its view row, statement by statement (the thread is
    locked by the caller); PostgreSQL does it in one statement (`_message_post_pg`)."""
    event = _append_event(
        thread=thread,
        kind=EventKind.TEXT,
        message_id=uuid.uuid4(),
        actor=actor,
        body=body,
        client_id=client_id,
    )
    message = apply_event(None, event)
    message.save(force_insert=True)
    return message


_POST_SQL: dict[str, str] = {}


def _post_read_sql(connection) -> str:
    """One statement for everything a post reads before it writes (PostgreSQL): the
    thread row, locked, with its workspace; the actor's latest mute/restore action and
    whether their `chat` capability is denied (the reads of
    `accounts.moderation.check_can_write`); the thread's participants (private threads);
    the subscribed webhook endpoints; which mentioned handles are members of the team."""
    from accounts.models import Capability, Membership
    from accounts.models_safety import ModerationAction

    from .models import ThreadParticipant

    def cols(model, alias):
        return ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)

    table = {
        m: connection.ops.quote_name(m._meta.db_table)
        for m in (Thread, Workspace, ModerationAction, Capability, ThreadParticipant, User,
                  Membership)
    }  # fmt: skip
    hooks = subscribed_endpoints_sql('t."workspace_id"')
    return (
        f"SELECT {cols(Thread, 't')}, {cols(Workspace, 'w')},"  # noqa: S608
        f' (SELECT ma."type" FROM {table[ModerationAction]} ma WHERE ma."user_id" = %s'
        f' AND ma."type" IN (%s, %s) ORDER BY ma."created_at" DESC LIMIT 1),'
        f' EXISTS (SELECT 1 FROM {table[Capability]} c WHERE c."user_id" = %s'
        f' AND c."capability" = %s AND c."denied"),'
        f' ARRAY(SELECT p."user_id" FROM {table[ThreadParticipant]} p'
        f' WHERE p."thread_id" = t."id"),'
        f" {hooks},"
        f' ARRAY(SELECT u."id" FROM {table[User]} u JOIN {table[Membership]} mb'
        f' ON mb."user_id" = u."id" WHERE mb."team_id" = w."team_id" AND u."handle" = ANY(%s))'
        f' FROM {table[Thread]} t JOIN {table[Workspace]} w ON w."id" = t."workspace_id"'
        f' WHERE t."id" = %s FOR UPDATE OF t'
    )


def _post_write_sql(connection, ev_cols: str, ev_vals: str, msg_cols: str, msg_vals: str) -> str:
    """One statement for every write of a post (PostgreSQL), under the thread lock the
    read statement took: the first event with this client_id, if any (then nothing is
    written); else the next seq from the event log (one backward step on the
    (thread, seq) index) onto the thread's `last_seq`, the event, and the view row
    `apply_event` folds from it."""
    quote = connection.ops.quote_name
    events, threads = quote(MessageEvent._meta.db_table), quote(Thread._meta.db_table)
    return (
        f"WITH p AS (SELECT message_id FROM {events} WHERE thread_id = %s"  # noqa: S608
        " AND client_id = %s AND client_id <> '' LIMIT 1), "
        f"s AS (UPDATE {threads} SET last_seq = COALESCE((SELECT seq FROM {events} "
        "WHERE thread_id = %s ORDER BY seq DESC LIMIT 1), 0) + 1, updated_at = %s "
        "WHERE id = %s AND NOT EXISTS (SELECT 1 FROM p) RETURNING last_seq), "
        f"e AS (INSERT INTO {events} ({ev_cols}) SELECT {ev_vals} FROM s RETURNING seq), "
        f"m AS (INSERT INTO {quote(Message._meta.db_table)} ({msg_cols}) SELECT {msg_vals} "
        "FROM e RETURNING seq) "
        "SELECT (SELECT seq FROM m), (SELECT message_id FROM p)"
    )


def _message_post_pg(*, thread: Thread, body: str, actor: User, client_id: str):
    """`message_post` on PostgreSQL in two statements: one read (lock + every check's
    facts), one write (dedupe + seq + event + view). The outbox insert and the mention
    notifications (after commit) cost statements only when an endpoint is subscribed or
    a mentioned handle is a member."""
    from accounts.models import CapabilityName
    from accounts.models_safety import ModerationType

    connection = connections[MessageEvent.objects.db]
    handles = sorted(_mentions(body, actor=actor))
    read = _POST_SQL.get("read") or _POST_SQL.setdefault("read", _post_read_sql(connection))
    params = [actor.pk, ModerationType.MUTE, ModerationType.RESTORE, actor.pk, CapabilityName.CHAT,
              "message.created", handles, thread.pk]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(read, params)
        row = cursor.fetchone()
    if row is None:
        raise NotFound("Thread not found.")
    t_fields = [f.attname for f in Thread._meta.concrete_fields]
    w_fields = [f.attname for f in Workspace._meta.concrete_fields]
    nt, nw = len(t_fields), len(w_fields)
    locked = Thread.from_db(connection.alias, t_fields, row[:nt])
    locked.workspace = Workspace.from_db(connection.alias, w_fields, row[nt : nt + nw])
    last_action, chat_denied, participants, endpoint_ids, mentioned = row[nt + nw :]
    if last_action == ModerationType.MUTE or chat_denied:
        from accounts.moderation import check_can_write

        check_can_write(actor, chat=True)  # raises with the moderation rule's own message
    private.check_participant_can_post(actor=actor, participants=participants)
    client_id = _clean_client_id(client_id)

    now = timezone.now()
    event = MessageEvent(
        thread=locked,
        seq=0,  # the database picks it below
        kind=EventKind.TEXT,
        message_id=uuid.uuid4(),
        author=actor,
        body=body,
        client_id=client_id,
        created_at=now,
        updated_at=now,
    )
    message = apply_event(None, event)
    message.created_at = message.updated_at = now
    ev_cols, ev_vals, ev_params = _insert_values(event, connection, seq_from="s.last_seq")
    msg_cols, msg_vals, msg_params = _insert_values(message, connection, seq_from="e.seq")
    write = _POST_SQL.get("write") or _POST_SQL.setdefault(
        "write", _post_write_sql(connection, ev_cols, ev_vals, msg_cols, msg_vals)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            write, [locked.pk, client_id, locked.pk, now, locked.pk, *ev_params, *msg_params]
        )
        seq, first = cursor.fetchone()
    if first is not None:
        return Message.objects.get(pk=first), False
    locked.last_seq = event.seq = message.seq = message.last_event_seq = seq
    message._state.adding = False
    message._state.db = connection.alias
    _after_post(thread=locked, actor=actor, message=message, endpoint_ids=endpoint_ids)
    if mentioned:
        _notify_mentions_on_commit(
            workspace=locked.workspace,
            actor=actor,
            text=body,
            kind=NotificationKind.MESSAGE_MENTION,
            thread=locked,
            message_id=message.pk,
        )
    return message, True


def _after_post(*, thread: Thread, actor: User, message: Message, endpoint_ids=None) -> None:
    """The outbox, in the post's transaction (a retry with a known client_id emits
    nothing): one delivery per subscribed endpoint."""
    webhook_outbox_write(
        workspace_id=thread.workspace_id, event_type="message.created",
        data={"id": str(message.pk), "thread": str(thread.pk), "seq": message.seq,
              "author": str(actor.pk), "body": message.body[:2000]},
        endpoint_ids=endpoint_ids,
    )  # fmt: skip


def _lock_thread(thread: Thread) -> Thread:
    return Thread.objects.select_for_update().select_related("workspace").get(pk=thread.pk)


def _lock_message(thread: Thread, message_id) -> Message:
    message = Message.objects.select_for_update().filter(thread=thread, pk=message_id).first()
    if message is None:
        raise NotFound("Message not found.")
    return message


def _clean_client_id(client_id: str) -> str:
    client_id = (client_id or "").strip()
    if len(client_id) > 64:
        raise ValidationFailed("At most 64 characters.", field="client_id")
    _no_nul(client_id, field="client_id")
    return client_id


@transaction.atomic
def message_post(
    *, thread: Thread, body: str, actor: User, client_id: str = ""
) -> tuple[Message, bool]:
    """Post a message; returns (message, created). A known client_id returns the first one."""
    body = _clean_body(body)
    if connections[MessageEvent.objects.db].vendor == "postgresql":
        return _message_post_pg(thread=thread, body=body, actor=actor, client_id=client_id)
    private.check_can_post(thread=thread, actor=actor)  # participants, DM blocks, mutes
    client_id = _clean_client_id(client_id)
    thread = _lock_thread(thread)
    if client_id:
        first = (
            MessageEvent.objects.filter(thread=thread, client_id=client_id)
            .values_list("message_id", flat=True)
            .first()
        )
        if first is not None:
            return Message.objects.get(pk=first), False
    message = _append_text_and_view(thread=thread, actor=actor, body=body, client_id=client_id)
    _after_post(thread=thread, actor=actor, message=message)
    _notify_mentions_on_commit(
        workspace=thread.workspace,
        actor=actor,
        text=body,
        kind=NotificationKind.MESSAGE_MENTION,
        thread=thread,
        message_id=message.pk,
    )
    return message, True


def _apply_and_save(message: Message, event: MessageEvent) -> Message:
    message = apply_event(message, event)
    message.save(
        update_fields=[
            "body",
            "edited",
            "edited_at",
            "deleted",
            "deleted_at",
            "reactions",
            "last_event_seq",
            "updated_at",
        ]
    )
    return message


@transaction.atomic
def message_edit(*, thread: Thread, message_id, body: str, actor: User) -> Message:
    body = _clean_body(body)
    thread = _lock_thread(thread)
    message = _lock_message(thread, message_id)
    if message.author_id != actor.pk:
        raise Forbidden("Only the author may edit a message.")
    if message.deleted:
        raise Conflict("A deleted message cannot be edited.")
    _check_can_chat(actor)  # an edit says something new: muted or revoked, refused
    previous = message.body
    event = _append_event(
        thread=thread, kind=EventKind.EDIT, message_id=message.pk, actor=actor, body=body
    )
    message = _apply_and_save(message, event)
    _notify_mentions_on_commit(
        workspace=thread.workspace,
        actor=actor,
        text=body,
        previous=previous,
        kind=NotificationKind.MESSAGE_MENTION,
        thread=thread,
        message_id=message.pk,
    )
    return message


@transaction.atomic
def message_delete(*, thread: Thread, message_id, actor: User) -> Message:
    """Record a delete event; the view blanks the body, the event log keeps the text."""
    thread = _lock_thread(thread)
    message = _lock_message(thread, message_id)
    if message.author_id != actor.pk and not _is_admin(thread.workspace, actor):
        raise Forbidden("Only the author or a workspace admin may delete a message.")
    if message.deleted:
        return message
    event = _append_event(thread=thread, kind=EventKind.DELETE, message_id=message.pk, actor=actor)
    return _apply_and_save(message, event)


@transaction.atomic
def message_react(
    *, thread: Thread, message_id, emoji: str, actor: User, removed: bool = False
) -> Message:
    """Add (or with removed=True take back) the actor's `emoji`; a no-op writes no event."""
    emoji = (emoji or "").strip()
    if not emoji or len(emoji) > 32 or any(c.isspace() for c in emoji):
        raise ValidationFailed("One emoji or short code, at most 32 characters.", field="emoji")
    _no_nul(emoji, field="emoji")
    _check_can_chat(actor)
    thread = _lock_thread(thread)
    message = _lock_message(thread, message_id)
    if message.deleted:
        raise Conflict("A deleted message takes no reactions.")
    has_it = str(actor.pk) in message.reactions.get(emoji, [])
    if has_it != removed:  # already there (add) or already gone (remove)
        return message
    event = _append_event(
        thread=thread,
        kind=EventKind.REACTION,
        message_id=message.pk,
        actor=actor,
        emoji=emoji,
        removed=removed,
    )
    return _apply_and_save(message, event)


# --- presence ---------------------------------------------------------------------------


def presence_heartbeat(
    *, workspace: Workspace, actor: User, status: str, activity: str
) -> presence.PresenceEntry | None:
    """Refresh the actor's presence; status "offline" removes it at once."""
    store = presence.get_store()
    if status == presence.PresenceStatus.OFFLINE:
        store.leave(workspace.pk, actor.pk)
        return None
    return store.heartbeat(workspace.pk, actor.pk, status=status, activity=activity)
