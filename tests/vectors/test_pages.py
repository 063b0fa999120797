"""Knowledge pages: the Files section on the project page, a file's page, the search page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.pages import PageContract, signed_in
from vectors import services
from workspaces.models import ProjectFile, ProjectSkill

from .helpers import ingest, make_pdf, prose


class TestSearchPage(PageContract):
    queries = 10

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/p/{filled.project.slug}/search/?q=river"


class TestFilePage(PageContract):
    queries = 9

    def url(self, world, filled):
        if "file" not in world.context:
            world.context["file"] = ingest(filled.project, prose(60, 300).encode())
        return (
            f"/w/{world.workspace.slug}/p/{filled.project.slug}/files/{world.context['file'].pk}/"
        )


pytestmark = pytest.mark.django_db


def _project_url(world, project):
    return f"/w/{world.workspace.slug}/p/{project.slug}/"


def test_member_uploads_on_the_project_page_and_searches(world, project, embedder):
    project.workspace = world.workspace
    project.save(update_fields=["workspace"])
    client = signed_in(world.member)
    page = client.get(_project_url(world, project) + "?tab=knowledge").content.decode()
    assert 'id="file-upload-form"' in page
    pdf = make_pdf(["The lighthouse stands on the cliff.", "Seals rest in the lagoon."])
    response = client.post(
        _project_url(world, project) + "files/",
        {"file": SimpleUploadedFile("coast.pdf", pdf, "application/pdf")},
    )
    assert response.status_code == 302 and response["Location"].endswith("#knowledge")
    file = ProjectFile.objects.get(project=project)
    services.file_ingest(file_id=file.pk)
    page = client.get(_project_url(world, project) + "?tab=knowledge").content.decode()
    assert "coast.pdf" in page and "Extracted" in page
    results = client.get(_project_url(world, project) + "search/", {"q": "seals lagoon"})
    body = results.content.decode()
    assert f"/files/{file.pk}/#page-1" in body  # the hit starts on page 1 and runs onto 2
    assert "Page 1–2" in body
    file_page = client.get(_project_url(world, project) + f"files/{file.pk}/").content.decode()
    assert 'id="page-2"' in file_page and "Seals rest in the lagoon." in file_page


def test_upload_error_is_shown_in_place(world, project, settings):
    project.workspace = world.workspace
    project.save(update_fields=["workspace"])
    settings.FILE_MAX_BYTES = 3
    response = signed_in(world.member).post(
        _project_url(world, project) + "files/",
        {"file": SimpleUploadedFile("big.txt", b"too big", "text/plain")},
    )
    assert response.status_code == 200
    assert "at most 3 bytes" in response.content.decode()


def test_skill_form_keeps_what_was_typed_on_error(world, project):
    project.workspace = world.workspace
    project.save(update_fields=["workspace"])
    client = signed_in(world.member)
    url = _project_url(world, project) + "skills/"
    assert client.post(url, {"name": "triage", "content": "Steps"}).status_code == 302
    response = client.post(url, {"name": "Triage", "content": "typed text"})
    body = response.content.decode()
    assert "already has a skill" in body and "typed text" in body
    assert ProjectSkill.objects.count() == 1


def test_file_page_lists_citations_and_viewer_cannot_upload(world, project):
    project.workspace = world.workspace
    project.save(update_fields=["workspace"])
    file = ingest(project, b"Tides rise twice a day.")
    services.citation_create(
        project=project,
        source_kind="artifact",
        source_id="8f0e4a52-8a6b-4bb4-9d0e-7e3c6a1b2c3d",
        file_id=file.pk,
        quote="Tides rise",
        actor=world.owner,
    )
    viewer = signed_in(world.viewer)
    body = viewer.get(_project_url(world, project) + f"files/{file.pk}/").content.decode()
    assert "“Tides rise”" in body
    assert (
        'id="file-upload-form"'
        not in viewer.get(_project_url(world, project) + "?tab=knowledge").content.decode()
    )
    response = viewer.post(
        _project_url(world, project) + "files/",
        {"file": SimpleUploadedFile("a.txt", b"x", "text/plain")},
    )
    assert response.status_code == 403
