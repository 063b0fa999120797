"""Chat and comments go through a workspace backup and restore (governance.durability)."""

from collaboration import materialized, services
from collaboration.models import MessageEvent
from governance.durability import services as durability

from .helpers import make_project, make_thread, post


def test_restore_returns_chat_to_the_backup_and_the_log_continues(world):
    """Restore replaces the workspace with the backup: chat events and comments go back to
    the backup's state (the restore is audited), the view is rebuilt from the restored
    events, and posting continues the restored log without a gap."""
    thread = make_thread(world)
    message = post(thread, world.member, "before the backup")
    services.message_edit(thread=thread, message_id=message.pk, body="edited", actor=world.member)
    comment = services.comment_create(
        workspace=world.workspace, project=make_project(world), body="c1", actor=world.member
    )
    services.comment_update(comment=comment, body="c2", actor=world.member)
    view_at_backup = materialized.view_snapshot(world.workspace)
    record = durability.backup_create(workspace=world.workspace)
    post(thread, world.member, "after the backup")
    services.comment_update(comment=comment, body="c3", actor=world.member)

    durability.backup_restore(backup_id=record.backup_id)

    events = list(MessageEvent.objects.filter(thread=thread).values_list("seq", "kind", "body"))
    assert events == [(1, "text", "before the backup"), (2, "edit", "edited")]
    assert materialized.view_snapshot(world.workspace) == view_at_backup
    comment.refresh_from_db()
    assert comment.body == "c2"  # mutable rows go back to the backup, with their history
    assert list(comment.history.values_list("body", flat=True)) == ["c2", "c1"]
    assert post(thread, world.member, "after the restore").seq == 3
