"""Incremental backups: chains of full + deltas restore to the exact state at each point."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.utils import timezone

from collaboration import services as chat
from common.exceptions import NotFound, ValidationFailed
from durability import archive, services
from durability.checks import deltas_see_every_change
from durability.models import BackupKind, BackupRecord, BackupStatus
from durability.schedule import BEAT_SCHEDULE
from durability.selectors import stored_backups
from durability.services import chain, scope
from governance import registry
from governance.registry import DataClass
from tests.durability.api_dump import dump
from tests.durability.conftest import populate
from workspaces import services as ws_services
from workspaces.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(world, settings):
    settings.BACKUP_INCREMENTAL_OVERLAP_SECONDS = 0
    populate(world)
    thread = chat.thread_create(workspace=world.workspace, title="General", actor=world.owner)
    first, _ = chat.message_post(thread=thread, body="hello", actor=world.owner)
    world.context.update(thread=thread, first=first)
    return world


def _state(world):
    media = storages["default"]
    files = sorted(archive.walk(media, f"workspaces/{world.workspace.pk}"))
    blobs = {p: media.open(p).read() for p in files}
    return dump(world.workspace, world.owner), blobs


def _edit_round_one(world):
    ws, owner = world.workspace, world.owner
    ws_services.project_update(project=world.context["project"], actor=owner, name="Renamed")
    ws_services.project_create(workspace=ws, name="Gamma", slug="gamma", actor=owner)
    thread = world.context["thread"]
    chat.message_edit(thread=thread, message_id=world.context["first"].pk, body="hi", actor=owner)
    second, _ = chat.message_post(thread=thread, body="second", actor=world.member)
    chat.message_react(thread=thread, message_id=second.pk, emoji="+1", actor=owner)
    chat.notifications_create_for_mentions(
        workspace=ws,
        actor=world.member,
        handles={owner.handle},
        kind="message_mention",
        excerpt="x",
    )
    storages["default"].save(f"workspaces/{ws.pk}/uploads/later.txt", ContentFile(b"later"))
    world.context["second"] = second


def _edit_round_two(world):
    from governance.immutability import allow_purge

    ws, owner = world.workspace, world.owner
    thread = world.context["thread"]
    chat.message_delete(thread=thread, message_id=world.context["second"].pk, actor=world.member)
    chat.message_post(thread=thread, body="third", actor=owner)
    with allow_purge():  # a row deleted outright (no service deletes projects yet)
        Project.objects.filter(pk=world.context["second"].pk).delete()
        Project.objects.filter(slug="gamma", workspace=ws).delete()
    media = storages["default"]
    media.delete(f"workspaces/{ws.pk}/uploads/notes.txt")
    media.save(f"workspaces/{ws.pk}/uploads/notes.txt", ContentFile(b"changed"))


def _tick():
    """Timestamps must move on between a backup and the next change (coarse clocks)."""
    start = timezone.now()
    while timezone.now() <= start + datetime.timedelta(milliseconds=5):
        pass


def test_a_chain_restores_to_the_exact_state_at_every_point(filled):
    ws = filled.workspace
    full = services.backup_create(workspace=ws)
    at_full = _state(filled)
    _tick()
    _edit_round_one(filled)
    d1 = services.backup_create(workspace=ws, incremental=True)
    at_d1 = _state(filled)
    _tick()
    _edit_round_two(filled)
    d2 = services.backup_create(workspace=ws, incremental=True)
    at_d2 = _state(filled)
    assert len({str(at_full), str(at_d1), str(at_d2)}) == 3

    assert (d1.kind, d1.parent_backup_id) == (BackupKind.INCREMENTAL, full.backup_id)
    assert d2.parent_backup_id == d1.backup_id
    m2 = archive.read_manifest(d2.backup_id)
    assert m2["chain"] == [full.backup_id, d1.backup_id] and m2["parent"] == d1.backup_id
    assert m2["format"] == archive.DELTA_FORMAT
    m1 = archive.read_manifest(d1.backup_id)
    by_model = {p["model"]: p for p in m1["parts"]}
    # only what changed is in the delta; the keys say what exists
    assert by_model["workspaces.Project"]["rows"] == 2
    assert by_model["workspaces.Project"]["keys"]["rows"] == 3
    # a model with no change since the parent has no part, only its count (format 6)
    unchanged = {u["model"]: u for u in m1["unchanged"]}
    assert "deployments.Run" not in by_model
    assert unchanged["deployments.Run"]["keys"] == {"rows": 1}
    assert not [n for n in archive.walk(archive.backup_storage(), d1.backup_id) if "Run" in n]
    assert m1["totals"]["rows"] < archive.read_manifest(full.backup_id)["totals"]["rows"]
    assert [f["path"] for f in m1["files"] if f.get("stored_in") == d1.backup_id] == [
        f"workspaces/{ws.pk}/uploads/later.txt"
    ]
    # deletes: a model with history names the keys its "-" history rows say are gone
    # (none, or one file of them), no list of every key; one without history lists them all
    assert "file" not in by_model["workspaces.Project"]["keys"]
    assert by_model["workspaces.Project"]["keys"]["deleted"] == {"rows": 0}
    project_d2 = {p["model"]: p for p in m2["parts"]}["workspaces.Project"]["keys"]
    assert "file" not in project_d2 and project_d2["deleted"]["rows"] == 1
    assert project_d2["deleted"]["file"].endswith(".deleted.zst") and project_d2["rows"] == 2
    assert by_model["collaboration.Message"]["keys"] == {"rows": 2, "view": True}  # rebuildable
    assert "file" in by_model["collaboration.Notification"]["keys"]  # no history: every key
    assert "deleted" not in by_model["collaboration.MessageEvent"]["keys"]  # immutable

    for record, expected in ((d1, at_d1), (full, at_full), (d2, at_d2), (d1, at_d1)):
        result = services.backup_restore(backup_id=record.backup_id)
        assert result["mode"] == "replace"
        assert _state(filled) == expected, record.backup_id

    for record in (full, d1, d2):
        assert services.backup_verify(backup_id=record.backup_id)["ok"], record.backup_id


def test_a_chain_restores_onto_a_fresh_instance(filled):
    from accounts.models import Membership
    from governance.purge import workspace_purge

    ws = filled.workspace
    services.backup_create(workspace=ws)
    _tick()
    _edit_round_one(filled)
    d1 = services.backup_create(workspace=ws, incremental=True)
    expected = _state(filled)
    team = ws.team
    workspace_purge(workspace=ws, actor=filled.owner, reason="drill")
    Membership.objects.filter(team=team).delete()
    team.delete()
    BackupRecord.objects.all().delete()
    media = storages["default"]
    for path in list(archive.walk(media, f"workspaces/{ws.pk}")):
        media.delete(path)

    result = services.backup_restore(backup_id=d1.backup_id)

    assert result["mode"] == "create"
    assert _state(filled) == expected
    assert BackupRecord.objects.get(backup_id=d1.backup_id).parent_backup_id


def test_a_delta_needs_a_parent_and_a_killed_one_is_never_complete(filled, capsys):
    ws = filled.workspace
    with pytest.raises(ValidationFailed, match="full backup first"):
        services.backup_create(workspace=ws, incremental=True)
    full = services.backup_create(workspace=ws)
    seen = []

    def dies_midway(event):
        seen.append(event)
        if len(seen) == 1:  # after its first part, before its manifest
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        services.backup_create(workspace=ws, incremental=True, progress=dies_midway)
    killed = BackupRecord.objects.get(kind=BackupKind.INCREMENTAL)
    assert killed.status == BackupStatus.FAILED
    assert not archive.has_manifest(killed.backup_id)
    assert [b.backup_id for b in stored_backups()] == [full.backup_id]
    call_command("list_backups")
    out = capsys.readouterr().out
    assert killed.backup_id not in out and out.rstrip().endswith(" full")

    # a delta whose parent went missing is no longer complete either
    d1 = services.backup_create(workspace=ws, incremental=True)
    assert d1.parent_backup_id == full.backup_id  # the killed one is never a parent
    call_command("list_backups", "--workspace", ws.slug)
    assert f"incremental parent={full.backup_id}" in capsys.readouterr().out
    archive.delete_backup(full.backup_id)
    assert d1.backup_id not in [b.backup_id for b in stored_backups()]
    listed = stored_backups(include_incomplete=True)
    assert any(b.backup_id == d1.backup_id and "parent" in b.error for b in listed)
    with pytest.raises(NotFound, match="depends on"):
        services.backup_restore(backup_id=d1.backup_id)
    assert not services.backup_verify(backup_id=d1.backup_id)["ok"]


def test_a_damaged_parent_refuses_the_restore_of_its_delta(filled):
    ws = filled.workspace
    full = services.backup_create(workspace=ws)
    _tick()
    _edit_round_one(filled)
    d1 = services.backup_create(workspace=ws, incremental=True)
    before = _state(filled)
    storage = archive.backup_storage()
    name = next(n for n in archive.walk(storage, full.backup_id) if "Project" in n)
    data = bytearray(storage.open(name).read())
    data[len(data) // 2] ^= 0xFF
    storage.delete(name)
    storage.save(name, ContentFile(bytes(data)))
    with pytest.raises(ValidationFailed, match="damaged"):
        services.backup_restore(backup_id=d1.backup_id)
    assert _state(filled) == before


def test_the_command_writes_a_delta_and_prints_its_id_last(filled, capsys):
    ws = filled.workspace
    with pytest.raises(CommandError, match="full backup first"):
        call_command("backup", "--workspace", ws.slug, "--incremental")
    call_command("backup", "--workspace", ws.slug)
    full_id = capsys.readouterr().out.strip().splitlines()[-1]
    call_command("backup", "--workspace", ws.slug, "--incremental")
    out = capsys.readouterr().out.strip().splitlines()
    assert f"incremental on {full_id}" in out[-2]
    assert BackupRecord.objects.get(backup_id=out[-1]).parent_backup_id == full_id
    call_command("restore", out[-1], "--noinput")
    assert "Restored" in capsys.readouterr().out


def test_the_beat_job_writes_deltas_every_five_minutes(filled, settings):
    entry = BEAT_SCHEDULE["durability-incremental-backups"]
    assert entry["task"] == "durability.incremental_backups"
    assert settings.BACKUP_INCREMENTAL_INTERVAL_SECONDS == 300
    first = services.scheduled_incrementals()
    assert {r["kind"] for r in first.values()} == {BackupKind.FULL}  # nothing to build on yet
    second = services.scheduled_incrementals()
    assert {r["kind"] for r in second.values()} == {BackupKind.INCREMENTAL}


def test_retention_never_prunes_a_parent_of_a_kept_delta(filled, settings):
    settings.BACKUP_RETAIN_HOURLY = 1
    settings.BACKUP_RETAIN_DAILY = 1
    settings.BACKUP_RETAIN_WEEKLY = 0
    ws = filled.workspace
    base = timezone.now() - datetime.timedelta(days=3)
    old = services.backup_create(workspace=ws, at=base)
    full = services.backup_create(workspace=ws, at=base + datetime.timedelta(days=1))
    d1 = services.backup_create(
        workspace=ws, at=base + datetime.timedelta(days=2), incremental=True
    )
    d2 = services.backup_create(workspace=ws, incremental=True)
    assert (d1.parent_backup_id, d2.parent_backup_id) == (full.backup_id, d1.backup_id)

    result = services.backups_prune(workspace_id=ws.pk)

    assert result["pruned"] == [old.backup_id]
    assert services.backup_restore(backup_id=d2.backup_id)["rows"]
    assert {b.backup_id for b in stored_backups()} == {full.backup_id, d1.backup_id, d2.backup_id}


def test_a_delta_is_never_taken_across_a_schema_change(filled):
    from tests.durability.factories import SchemaVersionFactory

    ws = filled.workspace
    services.backup_create(workspace=ws)
    assert chain.delta_parent(ws) is not None
    SchemaVersionFactory()  # migrated since: the app schema version moved on
    assert chain.delta_parent(ws) is None
    assert services.scheduled_incrementals()[ws.slug]["kind"] == BackupKind.FULL


def test_every_backup_model_is_visible_to_a_delta_and_the_check_catches_one_that_is_not(
    monkeypatch,
):
    assert deltas_see_every_change(None) == []
    assert all(scope.change_fields(e.model, e) for e in registry.backup_models())
    # auth.Permission has no timestamp: as tenant data a delta would never see its changes
    blind = registry.Entry(
        key="auth.Permission",
        kind="model",
        data_class=DataClass.CRITICAL,
        tenant="content_type",
        storage="table auth_permission",
        reason="a deliberately blind example",
    )
    real = registry.backup_models
    monkeypatch.setattr(
        registry,
        "backup_models",
        lambda include_global=False: [*real(include_global=include_global), blind],
    )
    errors = deltas_see_every_change(None)
    assert [(e.id, e.obj) for e in errors] == [("durability.E002", "auth.Permission")]


def test_after_a_restore_the_next_backup_is_a_full_one(filled):
    ws = filled.workspace
    full = services.backup_create(workspace=ws)
    _tick()
    _edit_round_one(filled)
    services.backup_create(workspace=ws, incremental=True)
    services.backup_restore(backup_id=full.backup_id)  # rows go back to older timestamps
    assert chain.delta_parent(ws) is None
    with pytest.raises(ValidationFailed, match="restored since"):
        services.backup_create(workspace=ws, incremental=True)
    assert services.scheduled_incrementals()[ws.slug]["kind"] == BackupKind.FULL
    assert chain.delta_parent(ws) is not None


def test_a_view_row_only_a_rebuild_removed_is_put_right_by_regenerating_the_view(filled):
    from collaboration.materialized import rebuild, view_snapshot
    from collaboration.models import Message

    ws, thread = filled.workspace, filled.context["thread"]
    # a view row no event folds into: the next rebuild removes it, which a delta cannot list
    Message.objects.create(
        thread=thread,
        seq=999,
        last_event_seq=999,
        author=filled.owner,
        body="stray",
        posted_at=timezone.now(),
    )
    services.backup_create(workspace=ws)
    _tick()
    rebuild(workspace=ws)
    d1 = services.backup_create(workspace=ws, incremental=True)
    expected = view_snapshot(ws)
    parts = {p["model"]: p for p in archive.read_manifest(d1.backup_id)["parts"]}
    assert parts["collaboration.Message"]["keys"] == {"rows": len(expected), "view": True}

    services.backup_restore(backup_id=d1.backup_id)

    assert view_snapshot(ws) == expected


def _delta_queries(world):
    """The SQL one delta of `world`'s workspace runs, and its manifest."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        delta = services.backup_create(workspace=world.workspace, incremental=True)
    return [q["sql"] for q in captured.captured_queries], archive.read_manifest(delta.backup_id)


def test_a_delta_costs_what_changed_not_the_number_of_models(filled):
    ws, owner = filled.workspace, filled.owner
    workspace_models = [e.key for e in registry.backup_models()]
    services.backup_create(workspace=ws)
    _tick()
    quiet, manifest = _delta_queries(filled)  # only the first backup's audit row is new
    _tick()
    ws_services.project_update(project=filled.context["project"], actor=owner, name="Again")
    busy, changed = _delta_queries(filled)

    for m in (manifest, changed):
        # every workspace model is accounted for exactly once: a part or an unchanged entry
        listed = [p["model"] for p in m["parts"] if p["scope"] == "workspace"]
        listed += [u["model"] for u in m["unchanged"]]
        assert sorted(listed) == sorted(workspace_models)
        stored = list(archive.walk(archive.backup_storage(), m["backup_id"]))
        assert len(stored) == 1 + sum(
            1 + ("file" in p.get("keys", {})) + ("file" in p.get("keys", {}).get("deleted", {}))
            for p in m["parts"]
        )  # the manifest, and a file only for what has rows to tell
    parts = {p["model"] for p in changed["parts"] if p["scope"] == "workspace"}
    assert {"workspaces.Project", "workspaces.HistoricalProject"} <= parts
    assert "deployments.Run" not in parts and len(parts) <= 6
    # one statement finds what changed: no query per unchanged model (of ~50), so a quiet
    # delta costs fewer queries than there are models, and a change costs its parts only
    assert len(workspace_models) > 40
    assert len(quiet) <= 25 and len(busy) <= len(quiet) + 20, (len(quiet), len(busy))


def test_a_delete_no_timestamp_shows_is_still_carried_by_the_count(filled):
    from collaboration.models import Notification
    from collaboration.retention import notifications_prune

    ws, owner = filled.workspace, filled.owner
    chat.notifications_create_for_mentions(
        workspace=ws,
        actor=filled.member,
        handles={owner.handle},
        kind="message_mention",
        excerpt="x",
    )
    services.backup_create(workspace=ws)
    _tick()
    d1 = services.backup_create(workspace=ws, incremental=True)
    unchanged = {u["model"] for u in archive.read_manifest(d1.backup_id)["unchanged"]}
    assert "collaboration.Notification" in unchanged
    expected = _state(filled)
    assert notifications_prune(now=timezone.now() + datetime.timedelta(days=3650)) == 1
    d2 = services.backup_create(workspace=ws, incremental=True)  # nothing but the count moved
    parts = {p["model"]: p for p in archive.read_manifest(d2.backup_id)["parts"]}
    assert parts["collaboration.Notification"]["keys"]["rows"] == 0
    after = _state(filled)

    services.backup_restore(backup_id=d1.backup_id)
    assert _state(filled) == expected and Notification.objects.filter(workspace=ws).count() == 1
    services.backup_restore(backup_id=d2.backup_id)
    assert _state(filled) == after and not Notification.objects.filter(workspace=ws).exists()
    assert services.backup_verify(backup_id=d2.backup_id)["ok"]


def test_the_one_statement_a_delta_asks_agrees_with_the_orm_model_by_model(filled):
    """`delta_changes` writes its SQL from the models' metadata: the ORM's answer, exactly."""
    ws = filled.workspace
    since = timezone.now()
    _tick()
    _edit_round_one(filled)
    _edit_round_two(filled)
    views = {"collaboration.Message"}
    entries = registry.backup_models()
    found = scope.delta_changes(
        entries, workspace=ws, since=since, views=views, using="default", bound=2
    )
    expected = []
    for entry in entries:
        plan = scope.delta_plan(entry, ws, since, views)
        expected.append(
            scope.DeltaChange(
                min(plan.changed.count(), 2),
                plan.removed is not None and plan.removed.exists(),
                plan.rows.count() if plan.mode in ("view", "keys") else None,
            )
        )
    assert dict(zip([e.key for e in entries], found, strict=True)) == dict(
        zip([e.key for e in entries], expected, strict=True)
    )
    assert any(c.deleted for c in found) and any(c.changed == 2 for c in found)
    assert any(not c.changed for c in found)


def test_a_view_is_counted_only_when_its_count_may_have_moved(filled):
    """No view row written, no thread deleted and no rebuild that deleted rows since: the
    delta takes the view's count from its parent (None here) instead of counting it."""
    from collaboration.materialized import rebuild
    from collaboration.models import Message, Thread
    from governance.immutability import allow_purge
    from governance.models import AuditAction, AuditEvent

    ws, owner, thread = filled.workspace, filled.owner, filled.context["thread"]
    views = {"collaboration.Message"}
    view = [e for e in registry.backup_models() if e.key == "collaboration.Message"]

    def ask(since):
        found = scope.delta_changes(
            view, workspace=ws, since=since, views=views, using="default", bound=5
        )
        return found[0]

    def live():
        return Message.objects.filter(thread__workspace=ws).count()

    since = timezone.now()
    _tick()
    assert ask(since) == scope.DeltaChange(0, False, None)
    chat.message_post(thread=thread, body="more", actor=owner)
    assert ask(since) == scope.DeltaChange(1, False, 2)

    # a rebuild that deletes a row no event gives back records it, and the view is counted
    Message.objects.create(
        thread=thread, seq=999, last_event_seq=999, author=owner, body="stray",
        posted_at=timezone.now(),
    )  # fmt: skip
    since = timezone.now()
    _tick()
    assert ask(since).rows is None
    rebuild(workspace=ws)
    assert ask(since).rows == live() == 2
    assert AuditEvent.objects.filter(action=AuditAction.VIEWS_REBUILD, workspace=ws).exists()

    # a deleted thread takes its view rows with it: counted too
    other = chat.thread_create(workspace=ws, title="Other", actor=owner)
    chat.message_post(thread=other, body="gone soon", actor=owner)
    since = timezone.now()
    _tick()
    assert ask(since).rows is None
    with allow_purge():
        Thread.objects.get(pk=other.pk).delete()
    assert ask(since) == scope.DeltaChange(0, False, live()) and live() == 2
