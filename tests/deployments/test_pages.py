"""Shipping-pipeline pages: the approvals inbox, preview rollback, artifact download."""

import pytest

from deployments import services
from deployments.models import Approval, ApprovalStatus, Preview
from tests.factories import ProjectFactory
from tests.pages import PageContract, signed_in
from tests.tenancy import make_tenant_world


class TestApprovalsPage(PageContract):
    queries = 7
    write_marker = ">Approve</button>"
    writer = "admin"

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/approvals/"

    def write(self, world, filled):
        approval = Approval.objects.filter(project=filled.project).first()
        return f"{self.url(world, filled)}{approval.pk}/approve/", {"note": ""}


@pytest.fixture
def pipeline(db):
    world = make_tenant_world()
    project = ProjectFactory(workspace=world.workspace)
    return world, project


def test_second_admin_approves_but_not_the_requester(pipeline):
    world, project = pipeline
    approval, _ = services.approval_request(
        project=project,
        scope="deploy.production",
        payload={"environment": "production"},
        intent_summary="ship it",
        actor=world.admin,
    )
    url = f"/w/{world.workspace.slug}/approvals/"
    own = signed_in(world.admin).get(url).content.decode()
    assert ">Approve</button>" not in own and "Another admin must decide" in own
    response = signed_in(world.admin).post(f"{url}{approval.pk}/approve/", HTTP_HX_REQUEST="true")
    assert "You cannot approve your own request." in response.content.decode()
    response = signed_in(world.owner).post(
        f"{url}{approval.pk}/approve/", {"note": "ok"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Approved by @" in response.content.decode()
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.APPROVED


def test_rollback_moves_the_pointer_and_members_cannot(pipeline, tmp_path):
    world, project = pipeline
    preview = services.preview_create(project=project, slug="pv-1", actor=world.member)
    for i in range(2):
        services.preview_version_create(preview=preview, content={"i": i}, actor=world.member)
    url = f"/w/{world.workspace.slug}/p/{project.slug}/previews/{preview.pk}/rollback/"
    assert signed_in(world.member).post(url, {"version": 1}).status_code == 403
    page = signed_in(world.admin).get(f"/w/{world.workspace.slug}/p/{project.slug}/?tab=previews")
    assert "Roll back to v1" in page.content.decode()
    assert signed_in(world.admin).post(url, {"version": 1}).status_code == 302
    assert Preview.objects.get(pk=preview.pk).active_version == 1


def test_artifact_download(pipeline):
    world, project = pipeline
    artifact = services.artifact_create(
        project=project,
        kind="report",
        logical_key="r",
        content=b"hello",
        content_type="text/plain",
        actor=world.member,
    )
    url = f"/w/{world.workspace.slug}/p/{project.slug}/artifacts/{artifact.pk}/download/"
    response = signed_in(world.viewer).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"hello"
    assert signed_in(world.outsider).get(url).status_code == 404


def test_start_a_run_from_the_runs_tab(pipeline):
    from deployments.models import Run

    world, project = pipeline
    base = f"/w/{world.workspace.slug}/p/{project.slug}/"
    assert 'id="run-form"' in signed_in(world.member).get(base + "?tab=runs").content.decode()
    assert 'id="run-form"' not in signed_in(world.viewer).get(base + "?tab=runs").content.decode()
    response = signed_in(world.member).post(base + "runs/", {"kind": "build"})
    assert response.status_code == 302 and response["Location"].endswith("?tab=runs#runs")
    assert Run.objects.get(project=project).kind == "build"
    blank = signed_in(world.member).post(base + "runs/", {"kind": ""}).content.decode()
    assert "This field is required." in blank and 'aria-current="page">Runs<' in blank
    assert signed_in(world.viewer).post(base + "runs/", {"kind": "x"}).status_code == 403
    assert Run.objects.filter(project=project).count() == 1


def test_create_a_preview_and_publish_versions_from_the_previews_tab(pipeline):
    world, project = pipeline
    base = f"/w/{world.workspace.slug}/p/{project.slug}/"
    member = signed_in(world.member)
    assert (
        member.post(base + "previews/", {"slug": "site-pv", "visibility": "team"}).status_code
        == 302
    )
    preview = Preview.objects.get(slug="site-pv")
    taken = member.post(base + "previews/", {"slug": "site-pv", "visibility": "team"})
    assert (
        taken.status_code == 200 and "site-pv" in taken.content.decode()
    )  # re-shown with its error
    url = base + f"previews/{preview.pk}/versions/"
    bad = member.post(url, {"content": '{"html": '}).content.decode()
    assert "Enter a valid JSON." in bad and "{&quot;html&quot;: " in bad  # typed text stays
    assert member.post(url, {"content": '{"html": "<p>v1</p>"}'}).status_code == 302
    assert Preview.objects.get(pk=preview.pk).active_version == 1
    assert signed_in(world.viewer).post(url, {"content": "{}"}).status_code == 403
