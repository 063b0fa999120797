"""Point-in-time restore from history: one object, a whole workspace; never destructive."""

import datetime
import time

import pytest
from django.utils import timezone

from common.exceptions import NotFound, ValidationFailed
from durability import services
from governance.models import AuditEvent
from tests.durability.factories import BackupRecordFactory
from tests.tenancy import TenancyContract, api_client
from workspaces import services as ws_services
from workspaces.models import Project

pytestmark = pytest.mark.django_db


def _tick() -> datetime.datetime:
    time.sleep(0.01)
    moment = timezone.now()
    time.sleep(0.01)
    return moment


def test_one_object_back_to_its_state_at_t_with_new_history(world):
    project = ws_services.project_create(
        workspace=world.workspace, name="One", slug="one", actor=world.owner
    )
    t = _tick()
    ws_services.project_update(project=project, actor=world.member, name="Two", description="d")
    history_before = list(project.history.values_list("history_id", flat=True))

    report = services.restore_point(
        workspace=world.workspace,
        at=t,
        actor=world.admin,
        model="workspaces.Project",
        object_id=project.pk,
    )

    project.refresh_from_db()
    assert (project.name, project.description) == ("One", "")
    assert report["restored"] == [
        {"model": "workspaces.Project", "id": str(project.pk), "action": "updated"}
    ]
    newest = project.history.order_by("-history_date").first()
    assert newest.history_change_reason.startswith("restored to ")
    assert newest.history_change_reason.endswith(f"by {world.admin.handle}")
    assert newest.history_user == world.admin
    # nothing deleted: the old history is all still there, plus one new version
    assert set(history_before) < set(project.history.values_list("history_id", flat=True))
    assert AuditEvent.objects.filter(action="restore_point", workspace=world.workspace).exists()


def test_whole_workspace_back_to_t(world):
    ws = world.workspace
    kept = ws_services.project_create(workspace=ws, name="Kept", slug="kept", actor=world.owner)
    gone = ws_services.project_create(workspace=ws, name="Gone", slug="gone", actor=world.owner)
    t = _tick()
    ws_services.project_update(project=kept, actor=world.owner, name="Kept changed")
    gone_id = gone.pk
    gone.delete()  # recorded as a "-" history row
    later = ws_services.project_create(workspace=ws, name="Later", slug="later", actor=world.owner)
    ws_services.workspace_update(workspace=ws, actor=world.owner, name="Renamed ws")

    report = services.restore_point(workspace=ws, at=t, actor=world.owner)

    assert Project.objects.get(pk=kept.pk).name == "Kept"
    assert Project.objects.get(pk=gone_id).name == "Gone"  # recreated as a new version
    assert Project.objects.filter(pk=later.pk).exists()  # created after t: left, reported
    assert {"model": "workspaces.Project", "id": str(later.pk)} in report["not_at_that_time"]
    ws.refresh_from_db()
    assert ws.name != "Renamed ws"
    assert Project.history.filter(id=gone_id, history_type="-").exists()  # history kept
    actions = {(r["model"], r["action"]) for r in report["restored"]}
    assert ("workspaces.Project", "recreated") in actions


def test_bad_input_is_refused(world):
    with pytest.raises(ValidationFailed):
        services.restore_point(
            workspace=world.workspace,
            at=timezone.now() + datetime.timedelta(days=1),
            actor=world.owner,
        )
    with pytest.raises(ValidationFailed):
        services.restore_point(
            workspace=world.workspace, at=timezone.now(), actor=world.owner, model="nope.Nope"
        )
    with pytest.raises(NotFound):
        services.restore_point(
            workspace=world.workspace,
            at=timezone.now(),
            actor=world.owner,
            model="workspaces.Project",
            object_id="00000000-0000-0000-0000-000000000001",
        )


class TestRestorePointEndpoint(TenancyContract):
    writer_role = "admin"
    routes = ("durability-api:restore-point",)
    list_queries = 4  # the backups list (see list_url): workspace, role, last backup, rows

    def setup_world(self, world):
        world.context["project"] = ws_services.project_create(
            workspace=world.workspace, name="P", slug="p", actor=world.owner
        )

    def list_url(self, world):
        # read-only GET is not offered; the contract's read checks use the backups list
        return f"/api/v1/workspaces/{world.workspace.slug}/backups/"

    def make_rows(self, world, n):
        BackupRecordFactory.create_batch(n, workspace=world.workspace)

    def write(self, world):
        return (
            "post",
            f"/api/v1/workspaces/{world.workspace.slug}/restore-point/",
            {
                "at": timezone.now().isoformat(),
                "model": "workspaces.Project",
                "object_id": str(world.context["project"].pk),
            },
        )

    def probes(self, world):
        return [self.write(world)]  # strangers get 404 and anonymous callers 401 on it

    def test_member_is_refused(self, world):
        method, url, payload = self.write(world)
        assert api_client(world.member).post(url, payload, format="json").status_code == 403

    def test_owner_restores_and_bad_input_is_400(self, world):
        project = world.context["project"]
        t = _tick()
        ws_services.project_update(project=project, actor=world.owner, name="Q")
        url = f"/api/v1/workspaces/{world.workspace.slug}/restore-point/"
        client = api_client(world.owner)
        response = client.post(
            url,
            {"at": t.isoformat(), "model": "workspaces.Project", "object_id": str(project.pk)},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["restored"][0]["id"] == str(project.pk)
        project.refresh_from_db()
        assert project.name == "P"
        response = client.post(url, {"at": "yesterday-ish"}, format="json")
        assert response.status_code == 400 and "at" in response.json()
        response = client.post(
            url, {"at": t.isoformat(), "object_id": str(project.pk)}, format="json"
        )
        assert response.status_code == 400 and "model" in response.json()
        response = client.post(url, {"at": t.isoformat(), "model": "x.Y"}, format="json")
        assert response.status_code == 400 and "model" in response.json()
