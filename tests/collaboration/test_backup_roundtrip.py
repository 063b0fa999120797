"""Chat and comments go through a workspace backup and restore (durability)."""

from collaboration import materialized, services
from collaboration.models import MessageEvent
from durability import services as durability
from durability import versions
from governance.models import AuditAction, AuditEvent

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


def _restore_audit(backup_id):
    return AuditEvent.objects.filter(action=AuditAction.RESTORE, data__backup_id=backup_id).get()


def test_restore_rebuilds_views_only_when_their_version_differs(world):
    thread = make_thread(world)
    post(thread, world.member, "hello")
    unstamped = durability.backup_create(workspace=world.workspace)
    versions.schema_stamp(migrated=True, views=True)  # what migrate_safely records
    stamped = durability.backup_create(workspace=world.workspace)
    view = materialized.view_snapshot(world.workspace)

    durability.backup_restore(backup_id=stamped.backup_id)
    assert _restore_audit(stamped.backup_id).data["views_rebuilt"] is None
    assert materialized.view_snapshot(world.workspace) == view  # restored as backed up

    durability.backup_restore(backup_id=unstamped.backup_id)  # views version 0: unknown
    assert _restore_audit(unstamped.backup_id).data["views_rebuilt"] == {
        "collaboration.materialized": 1
    }
    assert materialized.view_snapshot(world.workspace) == view
