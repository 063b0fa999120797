"""Collaboration reads, always starting from a workspace the caller may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from common.exceptions import NotFound
from workspaces.models import Workspace

from . import presence, private
from .models import Comment, Message, MessageEvent, Notification, Thread
from .rows import message_rows


def comment_list(*, workspace: Workspace, project_id=None) -> QuerySet[Comment]:
    qs = Comment.objects.filter(workspace=workspace).select_related("author")
    if project_id is not None:
        qs = qs.filter(project_id=project_id)
    return qs.order_by("created_at", "pk")


def comment_threads(*, workspace: Workspace, project_id) -> QuerySet[Comment]:
    """Top-level comments of a project, oldest first, each with its replies prefetched."""
    replies = Comment.objects.select_related("author").order_by("created_at", "pk")
    return (
        comment_list(workspace=workspace, project_id=project_id)
        .filter(parent__isnull=True)
        .prefetch_related(Prefetch("replies", queryset=replies))
    )


def comment_history(*, comment: Comment):
    """Every saved version of a comment, newest first, with who saved it."""
    return comment.history.select_related("history_user").order_by("-history_date")


def comment_get(*, workspace: Workspace, comment_id) -> Comment:
    comment = comment_list(workspace=workspace).filter(pk=comment_id).first()
    if comment is None:
        raise NotFound("Comment not found.")
    return comment


def thread_list(*, workspace: Workspace, project_id=None, user=None) -> QuerySet[Thread]:
    """The workspace's threads `user` may read (private ones only for their participants)."""
    threads = private.visible_threads(Thread.objects.filter(workspace=workspace), user=user)
    if project_id is not None:
        threads = threads.filter(project_id=project_id)
    return threads.order_by("-created_at", "pk")


def thread_get(*, workspace: Workspace, thread_id, user=None) -> Thread:
    """404 for a missing thread and for a private one `user` does not take part in."""
    threads = Thread.objects.filter(workspace=workspace, pk=thread_id)
    thread = private.visible_threads(threads, user=user).first()
    if thread is None:
        raise NotFound("Thread not found.")
    return thread


@dataclass(frozen=True)
class MessagePage:
    messages: list  # Message or rows.MessageRow; oldest first, newest last
    has_more: bool  # older messages exist before the first one


def message_page(*, thread: Thread, before_seq: int | None = None, limit: int = 50) -> MessagePage:
    """The `limit` newest messages (before `before_seq` if given), newest last.

    Walks the (thread, seq) unique index backwards, so the cost does not grow
    with the size of the thread.
    """
    qs = Message.objects.filter(thread=thread).select_related("author")
    if before_seq is not None:
        qs = qs.filter(seq__lt=before_seq)
    rows = list(qs.order_by("-seq")[: limit + 1])
    has_more = len(rows) > limit
    return MessagePage(messages=rows[:limit][::-1], has_more=has_more)


def message_rows_page(
    *, thread: Thread, before_seq: int | None = None, limit: int = 50
) -> MessagePage:
    """`message_page` as plain `rows.MessageRow`s from one query, no model instances:
    what the API list and the thread page read (same rows, same order)."""
    found = message_rows(thread_id=thread.pk, before_seq=before_seq, limit=limit + 1)
    return MessagePage(messages=found[:limit][::-1], has_more=len(found) > limit)


# `count` of a message page stops here: counting walks the thread's rows, so the
# cost is bounded like the page itself (a longer thread reports MESSAGE_COUNT_CAP).
MESSAGE_COUNT_CAP = 10_000


def message_count(*, thread: Thread) -> int:
    """How many messages the thread holds, counted up to MESSAGE_COUNT_CAP (one query)."""
    return Message.objects.filter(thread=thread).order_by()[:MESSAGE_COUNT_CAP].count()


def message_newer_page_before_seq(
    *, thread: Thread, before_seq: int, limit: int
) -> tuple[bool, int | None]:
    """Where the page newer than the one ending before `before_seq` starts.

    Returns (exists, its before_seq): the newer page holds the `limit` oldest messages
    at or after `before_seq`; its own `before_seq` is the seq just past them, None
    when it reaches the newest message (the first page). One query on the seq index.
    """
    seqs = list(
        Message.objects.filter(thread=thread, seq__gte=before_seq)
        .order_by("seq")
        .values_list("seq", flat=True)[: limit + 1]
    )
    if not seqs:
        return False, None
    return True, (seqs[limit] if len(seqs) > limit else None)


def message_get(*, thread: Thread, message_id) -> Message:
    message = Message.objects.filter(thread=thread, pk=message_id).select_related("author").first()
    if message is None:
        raise NotFound("Message not found.")
    return message


def messages_by_ids(*, thread: Thread, message_ids) -> list[Message]:
    """The current rows of these messages of `thread`, in seq order."""
    return list(
        Message.objects.filter(thread=thread, pk__in=list(message_ids))
        .select_related("author")
        .order_by("seq")
    )


def event_list(*, thread: Thread, after_seq: int = 0, limit: int = 100) -> list[MessageEvent]:
    """Events with seq > after_seq in seq order (sync and replay)."""
    return list(
        MessageEvent.objects.filter(thread=thread, seq__gt=after_seq)
        .select_related("author")
        .order_by("seq")[:limit]
    )


def notification_list(
    *, workspace: Workspace, user: User, unread: bool | None = None
) -> QuerySet[Notification]:
    qs = Notification.objects.filter(workspace=workspace, recipient=user).select_related("actor")
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs.order_by("-created_at", "pk")


def notification_get(*, workspace: Workspace, user: User, notification_id) -> Notification:
    notification = notification_list(workspace=workspace, user=user).filter(pk=notification_id)
    notification = notification.first()
    if notification is None:
        raise NotFound("Notification not found.")
    return notification


def notification_unread_count(*, workspace: Workspace, user: User, cap: int | None = None) -> int:
    """Unread notifications; with `cap`, counting stops there (a badge shows "99+")."""
    unread = Notification.objects.filter(workspace=workspace, recipient=user, read_at__isnull=True)
    return unread.order_by()[:cap].count() if cap else unread.count()  # no sort: an index scan


@dataclass(frozen=True)
class PresentMember:
    user: User
    entry: presence.PresenceEntry


def presence_list(*, workspace: Workspace, viewer=None) -> list[PresentMember]:
    """Members present now; an entry whose user left the team is not shown, nor (for
    `viewer`) anyone in a block with the viewer."""
    entries = presence.get_store().present(workspace.pk)
    if not entries:
        return []
    users = User.objects.filter(
        pk__in=[e.user_id for e in entries], memberships__team_id=workspace.team_id
    ).distinct()
    users = private.presence_users(users, viewer=viewer)
    by_id = {str(u.pk): u for u in users}
    return [PresentMember(by_id[e.user_id], e) for e in entries if e.user_id in by_id]
