"""Private conversations and block effects on chat (seed 002 §5, §3).

- `private_thread_create`: a thread only its participants (creator included) can read.
  Every participant must be a member of the workspace's team; nobody may be added who
  blocks or is blocked by the creator; a minor is added only by a friend (seed 002's
  safer default: no DMs from non-friends).
- `visible_threads`: the one filter every thread read goes through (selectors).
- `check_can_post`: in a private thread, only participants post, and a block between
  the two sides of a direct message stops it at once.
- `mention_recipients`: who a mention may notify: never someone in a block with the
  author, never a non-participant of a private thread.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from accounts import graph
from accounts.models import AgeLayer, User
from common.exceptions import NotFound, ValidationFailed
from governance.history import save_tracked
from workspaces.models import Workspace

from .models import Thread, ThreadParticipant


def visible_threads(threads: QuerySet[Thread], *, user) -> QuerySet[Thread]:
    """Public threads, plus the private ones `user` takes part in (fails closed: no user,
    no private threads)."""
    private = ThreadParticipant.objects.filter(thread=OuterRef("pk"))
    if user is None or not getattr(user, "is_authenticated", False):
        return threads.filter(~Exists(private))
    return threads.filter(~Exists(private) | Exists(private.filter(user=user)))


def is_private(thread: Thread) -> bool:
    return ThreadParticipant.objects.filter(thread=thread).exists()


def participant_ids(thread: Thread) -> list:
    return list(ThreadParticipant.objects.filter(thread=thread).values_list("user_id", flat=True))


def _check_pair(actor: User, other: User) -> None:
    if graph.blocked_between(actor, other):
        raise ValidationFailed(
            f"You cannot start a private conversation with @{other.handle}.", field="participants"
        )
    if other.age_layer == AgeLayer.MINOR and not graph.are_friends(actor, other):
        raise ValidationFailed(
            f"@{other.handle} only receives private messages from friends.",
            field="participants",
        )


@transaction.atomic
def private_thread_create(
    *, workspace: Workspace, title: str, actor: User, participants: list, project=None
) -> Thread:
    from .services import thread_create

    ids = {str(p) for p in participants} | {str(actor.pk)}
    users = list(User.objects.filter(pk__in=ids, memberships__team_id=workspace.team_id).distinct())
    if len(users) != len(ids):
        raise ValidationFailed(
            "Every participant must be a member of this workspace.", field="participants"
        )
    for other in users:
        if other.pk != actor.pk:
            _check_pair(actor, other)
    thread = thread_create(workspace=workspace, title=title, actor=actor, project=project)
    for user in sorted(users, key=lambda u: u.handle):
        save_tracked(
            ThreadParticipant(thread=thread, user=user, added_by=actor),
            actor=actor,
            reason="private thread participant",
        )
    return thread


def check_can_post(*, thread: Thread, actor: User) -> None:
    """Refuse a post by a muted user or one whose `chat` capability was revoked (403; one
    statement for both), in a private thread by a non-participant (404), or in a direct
    message across a block (400)."""
    from accounts.moderation import check_can_write

    check_can_write(actor, chat=True)
    check_participant_can_post(actor=actor, participants=participant_ids(thread))


def check_participant_can_post(*, actor: User, participants: list) -> None:
    """The private-thread half of `check_can_post`, given the thread's participant ids
    (empty for a public thread): 404 for a non-participant, 400 across a DM block."""
    ids = participants
    if not ids:
        return
    if actor.pk not in ids:
        raise NotFound("Thread not found.")
    others = [i for i in ids if i != actor.pk]
    if len(others) == 1 and graph.blocked_between(actor.pk, others[0]):
        raise ValidationFailed("You cannot send messages in this conversation.", field="body")


def mention_recipients(recipients: QuerySet[User], *, actor: User, thread=None, **_) -> QuerySet:
    """Drop users in a block with `actor`, and non-participants of a private thread."""
    recipients = graph.exclude_block_partners(recipients, actor)
    if thread is not None:
        private = ThreadParticipant.objects.filter(thread=thread)
        if private.exists():
            recipients = recipients.filter(pk__in=private.values("user_id"))
    return recipients


def presence_users(users: QuerySet[User], *, viewer) -> QuerySet[User]:
    """The present users `viewer` may see: nobody in a block with them (either way)."""
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return users
    return graph.exclude_block_partners(users, viewer)


__all__ = [
    "check_can_post",
    "check_participant_can_post",
    "presence_users",
    "is_private",
    "mention_recipients",
    "private_thread_create",
    "visible_threads",
]
