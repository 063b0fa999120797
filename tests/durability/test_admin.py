"""Durability admin: catalogue with status and age, restore/verify actions, restore-point form."""

import time

import pytest
from django.utils import timezone

from durability import services, versions
from tests.durability.conftest import populate
from tests.durability.factories import SchemaVersionFactory
from tests.factories import UserFactory
from workspaces import services as ws_services
from workspaces.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_changelist_actions_and_restore_point_form(admin_client, world):
    populate(world)
    record = services.backup_create(workspace=world.workspace)
    url = "/admin/durability/backuprecord/"
    page = admin_client.get(url)
    assert page.status_code == 200 and record.backup_id in page.content.decode()
    response = admin_client.post(
        url, {"action": "verify_selected", "_selected_action": [record.pk]}, follow=True
    )
    assert "intact" in response.content.decode()
    project = world.context["project"]
    ws_services.project_update(project=project, actor=world.owner, name="Broken")
    response = admin_client.post(
        url, {"action": "restore_selected", "_selected_action": [record.pk]}, follow=True
    )
    assert "Restored" in response.content.decode()
    assert Project.objects.get(pk=project.pk).name == "Alpha two"

    time.sleep(0.01)
    t = timezone.now()
    time.sleep(0.01)
    ws_services.project_update(project=project, actor=world.owner, name="Later")
    form = admin_client.get(url + "restore-point/")
    assert form.status_code == 200
    response = admin_client.post(
        url + "restore-point/",
        {
            "workspace": world.workspace.pk,
            "at": t.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "model": "workspaces.Project",
            "object_id": str(project.pk),
        },
        follow=True,
    )
    assert response.status_code == 200
    assert Project.objects.get(pk=project.pk).name == "Alpha two"


def test_admin_says_why_writes_are_refused(admin_client):
    SchemaVersionFactory(app_version=versions.APP_VERSION + 1)
    page = admin_client.get("/admin/durability/schemaversion/")
    assert "writes are refused" in page.content.decode()
    response = admin_client.post("/admin/durability/backuprecord/", {"action": "x"})
    assert response.status_code == 409
    assert "only knows version" in response.content.decode()
