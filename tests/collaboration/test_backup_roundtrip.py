"""Chat and comments survive a workspace backup and restore (governance.durability)."""

import pytest

from collaboration import materialized, services
from collaboration.models import MessageEvent
from governance.durability import services as durability

from .helpers import make_project, make_thread, post


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_ROOT = tmp_path / "backups"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def test_restore_keeps_later_events_and_the_rebuilt_view_follows_them(world):
    """Restore keeps append-only logs (it only adds missing rows), so a message posted after
    the backup survives it; the view, restored from the archive, is then rebuilt from the
    events (durability's restore should run `rebuild_views` for the workspace)."""
    thread = make_thread(world)
    message = post(thread, world.member, "before the backup")
    services.message_edit(thread=thread, message_id=message.pk, body="edited", actor=world.member)
    comment = services.comment_create(
        workspace=world.workspace, project=make_project(world), body="c1", actor=world.member
    )
    services.comment_update(comment=comment, body="c2", actor=world.member)
    record = durability.create_backup(workspace=world.workspace)
    later = post(thread, world.member, "after the backup")
    services.comment_update(comment=comment, body="c3", actor=world.member)
    view_now = materialized.view_snapshot(world.workspace)

    durability.restore_backup(record.location)
    materialized.rebuild(world.workspace)

    events = list(MessageEvent.objects.filter(thread=thread).values_list("seq", "kind", "body"))
    assert events == [
        (1, "text", "before the backup"),
        (2, "edit", "edited"),
        (3, "text", later.body),
    ]
    assert materialized.view_snapshot(world.workspace) == view_now
    comment.refresh_from_db()
    assert comment.body == "c2"  # mutable rows go back to the backup, with their history
    assert list(comment.history.values_list("body", flat=True)) == ["c2", "c1"]
    # The restored thread's last_seq is the backup's; the next seq still follows the log.
    assert post(thread, world.member, "after the restore").seq == 4
