"""The admin's Data registry page and the history admin, through the Django test client."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from simple_history.admin import SimpleHistoryAdmin

from governance import registry, selectors
from governance.registry import GLOBAL, DataClass, register_model
from tests.factories import ProjectFactory, UserFactory

URL = "/admin/data-registry/"


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def row_html(html: str, key: str) -> str:
    match = re.search(rf'<tr id="entry-{re.escape(key)}".*?</tr>', html, re.S)
    assert match, f"no row for {key}"
    return match.group(0)


def cell(row: str, name: str) -> str:
    return re.search(rf'<td class="{name}">(.*?)</td>', row, re.S).group(1).strip()


def test_page_lists_every_model_and_store_with_figures(staff_client):
    ProjectFactory.create_batch(7)
    response = staff_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for entry in registry.all_entries():
        assert f'data-key="{entry.key}"' in html, entry.key
    project = row_html(html, "workspaces.Project")
    assert cell(project, "rows") == "7"
    assert cell(project, "history") == "on"
    assert cell(project, "backup") == "yes"
    assert cell(project, "violations") == "ok"
    assert cell(row_html(html, "workspaces.HistoricalProject"), "rows") == "7"
    assert cell(row_html(html, "workspaces.HistoricalProject"), "history") == "is history"
    session = row_html(html, "sessions.Session")
    assert cell(session, "backup") == "no"
    assert "Ephemeral" in session
    assert cell(row_html(html, "deployments.artifact_blobs"), "rows") == "—"
    assert "none yet" in html  # no backup has run


def test_violations_of_a_bad_registration_are_shown(staff_client, scratch_registry):
    register_model(
        "governance.PurgePermit",
        DataClass.CRITICAL,
        tenant=GLOBAL,
        reason="deliberately bad",
        backup=False,
    )
    scratch_registry.unregister("workspaces.Project")
    html = staff_client.get(URL).content.decode()
    violations = cell(row_html(html, "governance.PurgePermit"), "violations")
    assert "holdfast.E002" in violations and "holdfast.E004" in violations
    global_block = re.search(r'id="global-violations">(.*?)</ul>', html, re.S).group(1)
    assert "holdfast.E001" in global_block and "workspaces.Project" in global_block


def test_filter_by_class(staff_client):
    html = staff_client.get(URL + "?data_class=ephemeral").content.decode()
    assert 'data-key="sessions.Session"' in html
    assert 'data-key="workspaces.Project"' not in html
    response = staff_client.get(URL + "?data_class=bogus")
    assert response.status_code == 400
    assert "Unknown data class" in response.content.decode()


def test_last_successful_backup_is_shown(staff_client):
    from django.utils import timezone

    from durability.models import BackupRecord

    record = BackupRecord.objects.create(
        backup_id="ws-x-20260101T000000-abcdef",
        taken_at=timezone.now(),
        status=BackupRecord.Status.SUCCEEDED,
        finished_at=timezone.now(),
    )
    html = staff_client.get(URL).content.decode()
    assert str(record.pk) in html


@pytest.mark.django_db
def test_non_staff_and_anonymous_are_refused():
    response = Client().get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_index_links_the_registry(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert f'href="{URL}"' in html


def test_every_history_tracked_model_has_history_admin_with_revert():
    for entry in registry.model_entries():
        if entry.history_of or not registry.has_history(entry.model):
            continue
        if entry.model._meta.auto_created:
            continue  # many-to-many tables: history lives on their owner
        model_admin = admin.site._registry.get(entry.model)
        if entry.key == "durability.SchemaVersion":
            continue  # written only by migrate_safely; read in the durability admin
        assert isinstance(model_admin, SimpleHistoryAdmin), entry.key


@pytest.mark.django_db
def test_group_history_page_renders(staff_client):
    group = Group.objects.create(name="ops")
    response = staff_client.get(f"/admin/auth/group/{group.pk}/history/")
    assert response.status_code == 200
    assert "ops" in response.content.decode()


@pytest.mark.django_db
def test_row_count_uses_planner_estimate_for_large_postgres_tables(postgres_only, monkeypatch):
    ProjectFactory.create_batch(5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE workspaces_project")
    monkeypatch.setattr(selectors, "LARGE_TABLE_ROWS", 1)
    count = selectors.row_count(registry.entry_for_key("workspaces.Project"))
    assert count.estimated and count.value == 5


def test_history_revert_form_is_available_for_a_project(staff_client):
    from workspaces import services

    staff = UserFactory()
    project = ProjectFactory(name="Before")
    services.project_update(project=project, actor=staff, name="After")
    first = project.history.order_by("history_date").first()
    url = f"/admin/workspaces/project/{project.pk}/history/{first.history_id}/"
    response = staff_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Revert" in html and "Before" in html
    response = staff_client.post(
        url,
        {
            "workspace": str(project.workspace_id),
            "name": "Before",
            "slug": project.slug,
            "description": "",
            "status": "active",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    project.refresh_from_db()
    assert project.name == "Before"
    newest = project.history.order_by("-history_date").first()
    assert newest.history_type == "~" and newest.history_user.is_staff
