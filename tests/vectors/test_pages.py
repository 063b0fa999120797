"""Knowledge pages: the Files section on the project page, a file's page, the search page."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import ProjectFactory
from tests.pages import PageContract, signed_in
from vectors import services
from vectors.models import Citation
from workspaces.models import ProjectFile, ProjectSkill

from .helpers import ingest, make_pdf, prose


class TestSearchPage(PageContract):
    queries = 11  # + the project's repository indexes (the "Search in" choices)

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


def _cited_artifact(world, project, n: int):
    """n versions of one text artifact, the newest citing n passages of an ingested file."""
    from deployments.services import artifact_create

    for i in range(n):
        artifact = artifact_create(
            project=project,
            kind="report",
            logical_key="coast",
            content=f"Report {i}: tides rise twice a day.".encode(),
            content_type="text/plain",
            actor=world.member,
        )
    file = ingest(project, b"Tides rise twice a day. Seals rest in the lagoon.")
    for _ in range(n):
        services.citation_create(
            project=project,
            source_kind="artifact",
            source_id=artifact.pk,
            file_id=file.pk,
            quote="Seals rest",
            actor=world.member,
        )
    return artifact, file


class TestArtifactPage(PageContract):
    queries = 9

    def url(self, world, filled):
        if "artifact" not in world.context:
            n = filled.project.artifacts.count()  # FEW or MANY rows, as fill() made
            world.context["artifact"], _ = _cited_artifact(world, filled.project, n)
        artifact = world.context["artifact"]
        return f"/w/{world.workspace.slug}/p/{filled.project.slug}/artifacts/{artifact.pk}/"


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


def _skill(world, project, name="triage", content="Steps"):
    from workspaces import knowledge

    project.workspace = world.workspace
    project.save(update_fields=["workspace"])
    return knowledge.project_skill_create(
        project=project, actor=world.owner, name=name, content=content
    )


def test_member_edits_a_skill_on_the_page_with_history(world, project):
    skill = _skill(world, project)
    client = signed_in(world.member)
    page = client.get(_project_url(world, project) + "?tab=knowledge").content.decode()
    assert f'action="/w/{world.workspace.slug}/p/{project.slug}/skills/{skill.pk}/"' in page
    response = client.post(
        _project_url(world, project) + f"skills/{skill.pk}/",
        {"name": "Triage", "description": "Sort the queue", "content": "New steps"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"?tab=knowledge#skill-{skill.pk}")
    skill.refresh_from_db()
    assert (skill.name, skill.description, skill.content) == (
        "Triage",
        "Sort the queue",
        "New steps",
    )
    versions = list(skill.history.order_by("history_date"))
    assert [v.history_type for v in versions] == ["+", "~"]
    assert versions[-1].history_user == world.member
    assert versions[-1].history_change_reason.startswith("skill updated")


def test_skill_edit_error_is_shown_in_its_row_and_keeps_what_was_typed(world, project):
    skill = _skill(world, project)
    _skill(world, project, name="deploy")
    response = signed_in(world.member).post(
        _project_url(world, project) + f"skills/{skill.pk}/",
        {"name": "Deploy", "description": "", "content": "typed edit"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    row = body[body.index(f'id="skill-{skill.pk}"') :]
    row = row[: row.index("</li>")]
    assert "already has a skill" in row and "typed edit" in row and " open>" in row
    assert 'aria-current="page"' in body and "tab=knowledge" in body
    skill.refresh_from_db()
    assert skill.name == "triage" and skill.history.count() == 1


def test_member_deletes_a_skill_and_history_keeps_it(world, project):
    skill = _skill(world, project)
    response = signed_in(world.member).post(
        _project_url(world, project) + f"skills/{skill.pk}/delete/"
    )
    assert response.status_code == 302 and response["Location"].endswith("#skills")
    assert not ProjectSkill.objects.filter(pk=skill.pk).exists()
    history = ProjectSkill.history.filter(id=skill.pk).order_by("history_date")
    assert [h.history_type for h in history] == ["+", "-"]
    assert history.last().history_user == world.member


def test_viewer_cannot_edit_or_delete_skills_and_stranger_gets_404(world, project):
    skill = _skill(world, project)
    viewer = signed_in(world.viewer)
    page = viewer.get(_project_url(world, project) + "?tab=knowledge").content.decode()
    assert "triage" in page and "skill-delete-form" not in page and "Save skill" not in page
    base = _project_url(world, project) + f"skills/{skill.pk}/"
    assert viewer.post(base, {"name": "x", "content": ""}).status_code == 403
    assert viewer.post(base + "delete/").status_code == 403
    outsider = signed_in(world.outsider)
    assert outsider.post(base + "delete/").status_code == 404
    assert ProjectSkill.objects.filter(pk=skill.pk, name="triage").exists()
    foreign = _skill(world, ProjectFactory(), name="foreign")  # same workspace, other project
    assert (
        signed_in(world.member)
        .post(_project_url(world, project) + f"skills/{foreign.pk}/delete/")
        .status_code
        == 404
    )
    assert ProjectSkill.objects.filter(pk=foreign.pk).exists()


def test_artifact_page_lists_versions_and_citations_linking_to_the_file(world, project):
    project.workspace = world.workspace
    project.save(update_fields=["workspace"])
    artifact, file = _cited_artifact(world, project, 2)
    client = signed_in(world.viewer)
    tab = client.get(_project_url(world, project) + "?tab=artifacts").content.decode()
    page_url = _project_url(world, project) + f"artifacts/{artifact.pk}/"
    assert f'href="{page_url}"' in tab
    body = client.get(page_url).content.decode()
    assert f'href="{page_url}download/"' in body and "v2" in body
    older = artifact.__class__.objects.get(project=project, version=1)
    assert f'href="{_project_url(world, project)}artifacts/{older.pk}/"' in body
    assert "“Seals rest”" in body
    citation = Citation.objects.filter(source_id=artifact.pk).first()
    anchor = (
        f"#page-{citation.page_start}"
        if citation.page_start
        else (f"#chunk-{citation.chunk_id}" if citation.chunk_id else "")
    )
    assert f'href="{_project_url(world, project)}files/{file.pk}/{anchor}"' in body
    assert file.name in body
    file_page = client.get(_project_url(world, project) + f"files/{file.pk}/").content.decode()
    assert f'href="{page_url}"' in file_page  # and the file page links back to the artifact
    other = ProjectFactory(workspace=world.workspace)
    assert (
        client.get(f"/w/{world.workspace.slug}/p/{other.slug}/artifacts/{artifact.pk}/").status_code
        == 404
    )
