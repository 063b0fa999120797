"""The sanctioned purge of a workspace: audit first, every tenant row gone, audit kept."""

import pytest

from common.exceptions import ValidationFailed
from governance import registry
from governance.models import AuditEvent
from governance.purge import tenant_entries, workspace_purge, workspace_row_counts
from tests.factories import ProjectFactory, WorkspaceFactory
from workspaces.models import Project, Workspace

pytestmark = pytest.mark.django_db


def _world(world):
    from workspaces import services

    ws = world.workspace
    project = services.project_create(workspace=ws, name="A", slug="a", actor=world.owner)
    services.project_update(project=project, actor=world.owner, name="B")  # history rows
    other = WorkspaceFactory()
    ProjectFactory(workspace=other)
    return ws, other


def test_purge_records_first_removes_every_tenant_row_and_keeps_the_audit(world):
    ws, other = _world(world)
    ws_id, slug = ws.pk, ws.slug
    other_counts = workspace_row_counts(other)
    assert workspace_row_counts(ws)["workspaces.HistoricalProject"] == 2

    result = workspace_purge(workspace=ws, actor=world.owner, reason="customer asked")

    event = AuditEvent.objects.get(pk=result["audit_event"])
    assert event.action == "purge" and event.workspace_id == ws_id
    assert event.data["rows"]["workspaces.Project"] == 1
    assert event.actor == world.owner and event.workspace_slug == slug
    # first: no row of the workspace is older than ... the purge event is the last audit row
    # written before the deletion, and every other row is gone
    assert not Workspace.objects.filter(pk=ws_id).exists()
    assert not Project.history.filter(workspace_id=ws_id).exists()
    assert not Workspace.history.filter(id=ws_id).exists()
    stub = Workspace(pk=ws_id, team_id=ws.team_id)
    for entry in tenant_entries():
        if entry.key == "governance.AuditEvent":
            continue
        assert not registry.workspace_queryset(entry, stub).exists(), entry.key
    assert AuditEvent.objects.filter(workspace_id=ws_id, action="purge").exists()
    assert workspace_row_counts(other) == other_counts
    assert result["deleted"]["workspaces.Workspace"] == 1


def test_purge_event_is_recorded_before_the_rows_go(world):
    """The audit row is inserted while the rows still exist (it carries their counts)."""
    ws, _ = _world(world)
    result = workspace_purge(workspace=ws, actor=world.owner, reason="drill")
    event = AuditEvent.objects.get(pk=result["audit_event"])
    assert event.data["rows"] == {k: v for k, v in event.data["rows"].items() if v}
    assert sum(event.data["rows"].values()) == sum(result["deleted"].values()) + sum(
        v for k, v in event.data["rows"].items() if k == "governance.AuditEvent"
    )


def test_purge_needs_a_reason_and_leaves_rows_when_refused(world):
    ws, _ = _world(world)
    with pytest.raises(ValidationFailed):
        workspace_purge(workspace=ws, actor=world.owner, reason=" ")
    assert Workspace.objects.filter(pk=ws.pk).exists()
    assert not AuditEvent.objects.filter(action="purge").exists()


def test_history_rows_stay_immutable_outside_the_purge(world):
    from django.db import DatabaseError, transaction

    ws, _ = _world(world)
    with pytest.raises(DatabaseError), transaction.atomic():
        Project.history.filter(workspace=ws).delete()
