"""Previews: immutable versions in storage, a pointer, rollback that moves only the pointer,
and /p/{slug}/ serving by visibility."""

import pytest
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.forms.models import model_to_dict

from deployments import services
from deployments.models import Preview, PreviewVersion
from governance.models import AuditAction, AuditEvent
from tests.tenancy import api_client


def _base(world, project):
    return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/previews/"


@pytest.fixture
def preview(project, world):
    preview = services.preview_create(
        project=project, slug="landing", visibility="public", actor=world.member
    )
    services.preview_version_create(
        preview=preview, content={"html": "<h1>v1</h1>"}, actor=world.member
    )
    services.preview_version_create(
        preview=preview, content={"html": "<h1>v2</h1>"}, actor=world.member
    )
    preview.refresh_from_db()
    return preview


def test_versions_are_blobs_under_the_preview_folder(preview):
    assert preview.active_version == 2
    versions = list(PreviewVersion.objects.filter(preview=preview).order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    for v in versions:
        assert (
            v.blob_path
            == f"workspaces/{preview.workspace_id}/previews/{preview.pk}/{v.version}.json"
        )
        assert default_storage.exists(v.blob_path)


def _snapshot(preview):
    versions = [model_to_dict(v) for v in PreviewVersion.objects.filter(preview=preview)]
    blobs = {v["blob_path"]: default_storage.open(v["blob_path"]).read() for v in versions}
    row = model_to_dict(Preview.objects.get(pk=preview.pk))
    return versions, blobs, row


def test_rollback_changes_only_the_pointer(preview, world, project, client):
    versions, blobs, row = _snapshot(preview)
    response = api_client(world.admin).post(
        _base(world, project) + "landing/rollback/", {"version": 1}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["active_version"] == 1
    after_versions, after_blobs, after_row = _snapshot(preview)
    assert after_versions == versions
    assert after_blobs == blobs
    assert {k: v for k, v in after_row.items() if k != "active_version"} == {
        k: v for k, v in row.items() if k != "active_version"
    }
    assert (row["active_version"], after_row["active_version"]) == (2, 1)
    event = AuditEvent.objects.get(action=AuditAction.ROLLBACK)
    assert event.actor == world.admin and event.data == {"from_version": 2, "to_version": 1}
    served = client.get("/p/landing/")
    assert served.status_code == 200 and served.content == b"<h1>v1</h1>"
    assert served["X-Preview-Version"] == "1"
    assert Preview.history.model.objects.filter(id=preview.pk).count() == 4


def test_rollback_needs_admin_and_an_existing_version(preview, world, project):
    url = _base(world, project) + "landing/rollback/"
    assert api_client(world.member).post(url, {"version": 1}, format="json").status_code == 403
    response = api_client(world.owner).post(url, {"version": 9}, format="json")
    assert response.status_code == 400 and "version" in response.json()
    assert Preview.objects.get(pk=preview.pk).active_version == 2


def test_version_rows_refuse_update_and_delete(preview):
    version = PreviewVersion.objects.get(preview=preview, version=1)
    pk = version.pk.hex if connection.vendor == "sqlite" else version.pk
    for sql in (
        "UPDATE deployments_previewversion SET sha256 = 'x' WHERE id = %s",
        "DELETE FROM deployments_previewversion WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [pk])


def test_new_versions_over_the_api(project, world, client):
    base = _base(world, project)
    member = api_client(world.member)
    created = member.post(base, {"slug": "docs", "visibility": "public"}, format="json")
    assert created.status_code == 201 and created.json()["url"] == "/p/docs/"
    assert member.post(base, {"slug": "docs"}, format="json").status_code == 409
    assert client.get("/p/docs/").status_code == 404  # no version yet
    v1 = member.post(base + "docs/versions/", {"content": {"a": 1}}, format="json")
    assert v1.status_code == 201 and v1.json()["version"] == 1
    staged = member.post(
        base + "docs/versions/", {"content": {"a": 2}, "activate": False}, format="json"
    )
    assert staged.json()["version"] == 2
    served = client.get("/p/docs/")
    assert served.json() == {"a": 1} and served["Content-Type"] == "application/json"
    listed = member.get(base + "docs/versions/").json()["results"]
    assert [v["version"] for v in listed] == [2, 1]


def test_html_is_served_in_a_sandboxed_origin(preview, client):
    response = client.get("/p/landing/")
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("visibility", "who", "status"),
    [
        ("public", None, 200),
        ("public", "outsider", 200),
        ("team", None, 404),
        ("team", "outsider", 404),
        ("team", "viewer", 200),
        ("private", "viewer", 404),
        ("private", "outsider", 404),
        ("private", "member", 200),  # the creator
        ("private", "admin", 200),
    ],
)
def test_serving_follows_visibility(preview, world, client, visibility, who, status):
    services.preview_update(preview=preview, visibility=visibility, actor=world.member)
    if who:
        client.force_login(getattr(world, who))
    assert client.get("/p/landing/").status_code == status


def test_a_bearer_token_may_view_a_team_preview(preview, world, client):
    from accounts.services import token_create

    services.preview_update(preview=preview, visibility="team", actor=world.member)
    _, raw = token_create(user=world.viewer, name="t")
    assert client.get("/p/landing/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert client.get("/p/landing/", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
