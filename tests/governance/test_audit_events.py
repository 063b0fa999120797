"""`GET /api/v1/workspaces/{slug}/audit-events/`: the workspace's governance actions."""

import pytest

from governance.models import AuditAction
from governance.services import audit_record
from tests.factories import WorkspaceFactory
from tests.tenancy import TenancyContract, api_client


def audit_url(world, query=""):
    return f"/api/v1/workspaces/{world.workspace.slug}/audit-events/{query}"


class TestAuditEventsEndpointTenancy(TenancyContract):
    routes = ("workspaces-api:workspace-audit-events",)
    list_queries = 4

    def list_url(self, world):
        return audit_url(world)

    def make_rows(self, world, n):
        for i in range(n):
            audit_record(
                action=AuditAction.BACKUP,
                summary=f"backup {i}",
                actor=world.admin,
                workspace=world.workspace,
            )


@pytest.mark.django_db
def test_lists_only_this_workspaces_events_newest_first_with_the_actor(world):
    audit_record(action=AuditAction.BACKUP, summary="first", actor=None, workspace=world.workspace)
    audit_record(
        action=AuditAction.RESTORE,
        summary="second",
        actor=world.admin,
        workspace=world.workspace,
        target=world.workspace,
        data={"rows": 3},
    )
    audit_record(action=AuditAction.BACKUP, summary="elsewhere", workspace=WorkspaceFactory())

    body = api_client(world.viewer).get(audit_url(world)).json()
    assert [r["summary"] for r in body["results"]] == ["second", "first"]
    newest = body["results"][0]
    assert newest["action"] == "restore"
    assert newest["actor"] == {"id": str(world.admin.pk), "handle": world.admin.handle}
    assert newest["target_type"] == "workspaces.Workspace"
    assert newest["target_id"] == str(world.workspace.pk)
    assert newest["data"] == {"rows": 3}
    assert body["results"][1]["actor"] is None


@pytest.mark.django_db
def test_filter_by_action_and_bad_action_is_400(world):
    audit_record(action=AuditAction.BACKUP, summary="b", workspace=world.workspace)
    audit_record(action=AuditAction.PURGE, summary="p", workspace=world.workspace)
    client = api_client(world.member)
    body = client.get(audit_url(world, "?action=purge")).json()
    assert [r["summary"] for r in body["results"]] == ["p"]
    response = client.get(audit_url(world, "?action=explode"))
    assert response.status_code == 400
    assert "action" in response.json()
