"""Files, skills, search, citations and recall-audit API: behaviour and tenancy contracts."""

import base64
import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from billing import services as billing
from billing.models import Plan
from tests.factories import ProjectFactory
from tests.tenancy import TenancyContract, api_client
from vectors import pgvector, services
from vectors.models import Chunk, Citation, RecallAudit
from workspaces import knowledge
from workspaces.models import FileStatus, ProjectFile, ProjectSkill

from .helpers import ingest, prose


def _project(world):
    if "project" not in world.context:
        world.context["project"] = ProjectFactory(workspace=world.workspace)
    return world.context["project"]


def _base(world):
    return f"/api/v1/workspaces/{world.workspace.slug}/projects/{_project(world).pk}/"


def _json_upload(data: bytes, name="a.txt"):
    return {"name": name, "content_base64": base64.b64encode(data).decode()}


class TestFileEndpoints(TenancyContract):
    routes = ("workspaces-api:project-files", "workspaces-api:project-file")
    list_queries = 5

    def list_url(self, world):
        return _base(world) + "files/"

    def write(self, world):
        return "post", self.list_url(world), _json_upload(b"contract bytes")

    def detail_url(self, world):
        file, _ = knowledge.project_file_upload(
            project=_project(world), name="d.txt", stream=io.BytesIO(b"detail"), actor=None
        )
        return f"{self.list_url(world)}{file.pk}/"

    def make_rows(self, world, n):
        start = ProjectFile.objects.count()
        for i in range(n):
            knowledge.project_file_upload(
                project=_project(world),
                name=f"f{i}.txt",
                stream=io.BytesIO(f"row {start + i}".encode()),
                actor=None,
            )


class TestSkillEndpoints(TenancyContract):
    routes = (
        "workspaces-api:project-skills",
        "workspaces-api:project-skill",
        "workspaces-api:project-skill-history",
    )
    list_queries = 5

    def list_url(self, world):
        return _base(world) + "skills/"

    def write(self, world):
        return "post", self.list_url(world), {"name": "deploy-checklist", "content": "Do it."}

    def _skill(self, world):
        if "skill" not in world.context:
            world.context["skill"] = knowledge.project_skill_create(
                project=_project(world), actor=world.owner, name="existing", content="body"
            )
        return world.context["skill"]

    def detail_url(self, world):
        return f"{self.list_url(world)}{self._skill(world).pk}/"

    def update(self, world):
        return "patch", self.detail_url(world), {"description": "Changed"}

    def delete(self, world):
        return self.detail_url(world)

    def probes(self, world):
        return [("get", self.detail_url(world) + "history/", None)]

    def make_rows(self, world, n):
        start = ProjectSkill.objects.count()
        for i in range(n):
            knowledge.project_skill_create(
                project=_project(world), actor=world.owner, name=f"skill-{start + i}"
            )


class TestSearchEndpoint(TenancyContract):
    routes = ("vectors-api:project-search",)
    viewer_may_write = True
    writer_role = "viewer"

    @property
    def list_queries(self):
        # pgvector adds its transaction (savepoint, settings, release) to the exact scan's
        return 10 if pgvector.available() else 8

    def list_url(self, world):
        return _base(world) + "search/?query=glacier"

    def write(self, world):
        return "post", _base(world) + "search/", {"query": "glacier fjord"}

    def make_rows(self, world, n):
        start = ProjectFile.objects.count()
        for i in range(n):
            ingest(_project(world), f"glacier fjord {start + i} ".encode() * 5, name=f"{i}.txt")


class TestCitationEndpoints(TenancyContract):
    routes = ("vectors-api:citations", "vectors-api:citation")
    list_queries = 5

    def list_url(self, world):
        return _base(world) + "citations/"

    def _file(self, world):
        if "file" not in world.context:
            world.context["file"] = ingest(_project(world), b"The reef is home to many fish.")
        return world.context["file"]

    def write(self, world):
        chunk = Chunk.objects.filter(file=self._file(world)).first()
        return (
            "post",
            self.list_url(world),
            {
                "source_kind": "artifact",
                "source_id": "8f0e4a52-8a6b-4bb4-9d0e-7e3c6a1b2c3d",
                "chunk": str(chunk.pk),
                "quote": "home to many fish",
            },
        )

    def _citation(self, world):
        if "citation" not in world.context:
            world.context["citation"] = services.citation_create(
                project=_project(world),
                source_kind="message",
                source_id="3f0e4a52-8a6b-4bb4-9d0e-7e3c6a1b2c3d",
                file_id=self._file(world).pk,
                quote="The reef",
                actor=world.owner,
            )
        return world.context["citation"]

    def detail_url(self, world):
        return f"{self.list_url(world)}{self._citation(world).pk}/"

    def delete(self, world):
        return self.detail_url(world)

    def make_rows(self, world, n):
        for i in range(n):
            services.citation_create(
                project=_project(world),
                source_kind="message",
                source_id=f"3f0e4a52-8a6b-4bb4-9d0e-7e3c6a1b2c{i:02d}",
                file_id=self._file(world).pk,
                quote=f"quote {i}",
                actor=world.owner,
            )


class TestRecallAuditEndpoint(TenancyContract):
    routes = ("vectors-api:recall-audits",)
    list_queries = 5

    def list_url(self, world):
        return _base(world) + "recall-audits/"

    def make_rows(self, world, n):
        for _ in range(n):
            RecallAudit.objects.create(
                project=_project(world),
                namespace=f"project:{_project(world).pk}:chunks",
                backend="exact",
                k=10,
                queries=3,
                recall=1.0,
                threshold=0.95,
            )


# --- behaviour -----------------------------------------------------------------------

pytestmark = pytest.mark.django_db


def test_multipart_upload_201_then_same_bytes_200(world):
    url = _base(world) + "files/"
    client = api_client(world.member)
    body = b"Glacier field notes.\n" * 20
    first = client.post(
        url, {"file": SimpleUploadedFile("notes.txt", body, "text/plain")}, format="multipart"
    )
    assert first.status_code == 201, first.content
    data = first.json()
    assert set(data) >= {"id", "name", "size", "sha256", "status", "extraction_version"}
    assert (data["name"], data["size"], data["status"]) == ("notes.txt", len(body), "pending")
    file = ProjectFile.objects.get(pk=data["id"])
    prefix = f"workspaces/{world.workspace.pk}/projects/{_project(world).pk}/files/"
    assert file.blob_path.startswith(prefix)
    assert default_storage.open(file.blob_path).read() == body
    assert file.uploaded_by == world.member
    again = client.post(
        url, {"file": SimpleUploadedFile("copy.txt", body, "text/plain")}, format="multipart"
    )
    assert again.status_code == 200, again.content
    assert again.json()["id"] == data["id"]
    assert ProjectFile.objects.count() == 1


def test_file_over_file_max_bytes_is_413(world, settings):
    settings.FILE_MAX_BYTES = 10
    url = _base(world) + "files/"
    response = api_client(world.member).post(
        url, {"file": SimpleUploadedFile("big.txt", b"x" * 11, "text/plain")}, format="multipart"
    )
    assert response.status_code == 413, response.content
    assert "at most 10 bytes (FILE_MAX_BYTES)" in response.json()["file"][0]
    assert not ProjectFile.objects.exists()


def test_storage_bytes_plan_limit_is_402(world):
    plan = Plan(code="tiny", name="Tiny", storage_bytes=20)
    billing.plan_save(plan=plan, actor=None)
    billing.entitlement_grant(team=world.workspace.team, plan=plan, actor=None, note="test")
    url = _base(world) + "files/"
    client = api_client(world.member)
    assert client.post(url, _json_upload(b"0123456789"), format="json").status_code == 201
    response = client.post(url, _json_upload(b"abcdefghijk", "b.txt"), format="json")
    assert response.status_code == 402, response.content
    assert "storage_bytes" in response.json()["detail"]
    assert ProjectFile.objects.count() == 1
    assert (
        len(list(default_storage.listdir(ProjectFile.objects.get().blob_path.rsplit("/", 1)[0])[1]))
        == 1
    )


def test_upload_without_file_is_400(world):
    response = api_client(world.member).post(_base(world) + "files/", {}, format="json")
    assert response.status_code == 400
    # A JSON upload names its bytes and its name; a multipart one needs `file`.
    assert set(response.json()) == {"name", "content_base64"}
    response = api_client(world.member).post(_base(world) + "files/", {}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_search_api_returns_seed_metadata_and_modes(world):
    project = _project(world)
    ingest(project, b"The glacier carved the fjord over ten thousand years.", name="ice.txt")
    file = ingest(project, b"Coral reefs shelter fish in warm shallow seas.", name="reef.txt")
    client = api_client(world.viewer)
    url = _base(world) + "search/"
    for mode in ("hybrid", "vector", "keyword"):
        response = client.post(url, {"query": "coral reef fish", "mode": mode}, format="json")
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        assert results, mode
        top = results[0]
        assert set(top) == {"id", "score", "type", "text", "metadata"}
        assert top["type"] == "chunk"
        assert top["metadata"]["fileId"] == str(file.pk), mode
        assert {"fileId", "chunkId", "pageStart", "pageEnd"} <= set(top["metadata"])
    filtered = client.post(
        url, {"query": "glacier", "filter": {"fileId": str(file.pk)}, "k": 5}, format="json"
    ).json()["results"]
    assert [r["metadata"]["fileId"] for r in filtered] == [str(file.pk)]


def test_search_bad_input_is_400(world):
    client = api_client(world.member)
    url = _base(world) + "search/"
    assert client.post(url, {"query": ""}, format="json").status_code == 400
    response = client.post(url, {"query": "x", "filter": {"secret__x": 1}}, format="json")
    assert response.status_code == 400 and "filter" in response.json()
    assert client.post(url, {"query": "x", "mode": "magic"}, format="json").status_code == 400
    response = client.post(url, {"query": "x", "namespace": "repo"}, format="json")
    assert response.status_code == 400 and "repo" in response.json()


def test_skill_frontmatter_history_and_conflicts(world):
    url = _base(world) + "skills/"
    client = api_client(world.member)
    content = "---\nname: Release Notes\ndescription: Write release notes\n---\n# Steps\n"
    created = client.post(url, {"content": content}, format="json")
    assert created.status_code == 201, created.content
    skill = created.json()
    assert (skill["name"], skill["name_norm"], skill["description"]) == (
        "Release Notes",
        "release notes",
        "Write release notes",
    )
    assert skill["metadata"]["frontmatter"]["name"] == "Release Notes"
    dup = client.post(url, {"name": "  release   NOTES "}, format="json")
    assert dup.status_code == 409 and "name" in dup.json()
    bad = client.post(url, {"name": "x", "content": "---\n: [\n---\n"}, format="json")
    assert bad.status_code == 400 and "content" in bad.json()
    scalar = client.post(url, {"name": "y", "content": "---\njust text\n---\n"}, format="json")
    assert scalar.status_code == 400
    detail = f"{url}{skill['id']}/"
    patched = client.patch(detail, {"content": "New body"}, format="json")
    assert patched.status_code == 200 and "frontmatter" not in patched.json()["metadata"]
    assert client.delete(detail).status_code == 204
    history = client.get(detail + "history/").json()["results"]
    assert [h["history_type"] for h in history] == ["-", "~", "+"]
    assert history[-1]["history_user"] == str(world.member.pk)


def test_citation_quote_must_appear_in_the_chunk(world):
    file = ingest(_project(world), b"Volcanoes build islands from lava.")
    chunk = Chunk.objects.get(file=file)
    url = _base(world) + "citations/"
    client = api_client(world.member)
    body = {
        "source_kind": "artifact",
        "source_id": "8f0e4a52-8a6b-4bb4-9d0e-7e3c6a1b2c3d",
        "chunk": str(chunk.pk),
        "quote": "not in there",
    }
    assert client.post(url, body, format="json").status_code == 400
    body["quote"] = "build   islands"
    created = client.post(url, body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["file"], data["page_start"], data["file_name"]) == (str(file.pk), 1, "notes.txt")
    listed = client.get(url, {"source_id": body["source_id"]}).json()["results"]
    assert [c["id"] for c in listed] == [data["id"]]
    other = ProjectFactory(workspace=world.workspace)
    other_file = ingest(other, b"Elsewhere entirely.")
    body.update(chunk=str(Chunk.objects.get(file=other_file).pk), quote="Elsewhere")
    assert client.post(url, body, format="json").status_code == 400
    assert Citation.objects.count() == 1


def test_ingest_marks_file_status_visible_in_api(world):
    file = ingest(_project(world), b"")
    response = api_client(world.viewer).get(_base(world) + f"files/{file.pk}/")
    assert response.json()["status"] == FileStatus.EXTRACTED
    assert response.json()["extraction_version"] == 1
    ingest(_project(world), prose(9, 50).encode(), name="x.txt")
