"""Mentions in comments and chat notify members of the workspace, after commit."""

import pytest

from collaboration import services
from collaboration.models import Notification, NotificationKind
from tests.factories import UserFactory

from .helpers import make_project, make_thread, post


def test_mentions_notify_members_only_and_not_the_author(world, django_capture_on_commit_callbacks):
    outsider = UserFactory(handle="stranger")
    thread = make_thread(world)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post(
            thread,
            world.member,
            f"@{world.owner.handle} @{world.viewer.handle}, @{world.member.handle} "
            f"@stranger @nobody email@{world.admin.handle}.com",
        )
    assert len(callbacks) == 1
    recipients = set(Notification.objects.values_list("recipient__handle", flat=True))
    assert recipients == {world.owner.handle, world.viewer.handle}
    assert not Notification.objects.filter(recipient=outsider).exists()
    n = Notification.objects.filter(recipient=world.owner).get()
    assert (n.kind, n.thread, n.actor, n.workspace) == (
        NotificationKind.MESSAGE_MENTION,
        thread,
        world.member,
        world.workspace,
    )


def test_nothing_is_sent_before_commit_or_on_rollback(world, django_capture_on_commit_callbacks):
    thread = make_thread(world)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post(thread, world.member, f"hey @{world.owner.handle}")
        assert Notification.objects.count() == 0  # not mid-transaction
    assert len(callbacks) == 1  # queued for commit; a rollback would drop it


def test_comment_mentions_and_edits_notify_only_new_handles(
    world, django_capture_on_commit_callbacks
):
    project = make_project(world)
    with django_capture_on_commit_callbacks(execute=True):
        comment = services.comment_create(
            workspace=world.workspace,
            project=project,
            body=f"cc @{world.owner.handle}",
            actor=world.member,
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_update(
            comment=comment,
            body=f"cc @{world.owner.handle} @{world.admin.handle}",
            actor=world.member,
        )
    rows = list(
        Notification.objects.order_by("created_at").values_list("recipient", "kind", "comment")
    )
    assert rows == [
        (world.owner.pk, NotificationKind.COMMENT_MENTION, comment.pk),
        (world.admin.pk, NotificationKind.COMMENT_MENTION, comment.pk),
    ]


def test_chat_edit_notifies_newly_mentioned(world, django_capture_on_commit_callbacks):
    thread = make_thread(world)
    message = post(thread, world.member, "no mention")
    with django_capture_on_commit_callbacks(execute=True):
        services.message_edit(
            thread=thread, message_id=message.pk, body=f"@{world.admin.handle}", actor=world.member
        )
    assert list(Notification.objects.values_list("recipient", "message_id")) == [
        (world.admin.pk, message.pk)
    ]


def test_mark_read_one_and_all(world):
    made = services.notifications_create_for_mentions(
        workspace=world.workspace,
        actor=world.owner,
        handles={world.member.handle},
        kind=NotificationKind.COMMENT_MENTION,
        excerpt="x",
    )
    services.notifications_create_for_mentions(
        workspace=world.workspace,
        actor=world.owner,
        handles={world.member.handle, world.admin.handle},
        kind=NotificationKind.COMMENT_MENTION,
        excerpt="y",
    )
    from common.exceptions import Forbidden

    with pytest.raises(Forbidden):
        services.notification_mark_read(notification=made[0], actor=world.admin)
    services.notification_mark_read(notification=made[0], actor=world.member)
    assert Notification.objects.filter(recipient=world.member, read_at__isnull=True).count() == 1
    assert services.notifications_mark_all_read(workspace=world.workspace, actor=world.member) == 1
    assert Notification.objects.filter(recipient=world.admin, read_at__isnull=True).count() == 1
