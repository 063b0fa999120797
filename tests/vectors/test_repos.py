"""Code search: a synced repository's text files chunked by lines in `project:{id}:repo:{repoId}`.

Real git repositories (dulwich, bare, on disk) made by each test; the sync is deployments'
own (`repo_sync_run`), which announces the synced commit through `common.indexing`."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.celery import app as celery_app
from deployments import services as deployments
from deployments.services import repo_sync
from tests.deployments.gitrepo import GitRepo
from tests.factories import ProjectFactory
from tests.pages import signed_in
from tests.tenancy import api_client
from vectors import repos, services, store
from vectors.extract import chunk_lines, language_of
from vectors.models import Chunk, Embedding, RecallAudit, RepoIndex

pytestmark = pytest.mark.django_db

APP = "".join(f"def handler_{i}(request):\n    return render_glacier({i})\n" for i in range(50))
README = "# Glacier tools\n\nUtilities for measuring how fast a glacier moves.\n"


@pytest.fixture
def eager():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def project(world):
    return ProjectFactory(workspace=world.workspace)


@pytest.fixture
def git(tmp_path):
    return GitRepo(tmp_path / "code.git")


@pytest.fixture
def repo(project, world, git, settings):
    settings.REPO_INDEX_MAX_BYTES = 4000
    git.commit(
        {
            "src/app.py": APP,
            "README.md": README,
            "assets/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
            "data/blob.dat": b"abc\x00def" * 10,
            "docs/huge.txt": "glacier " * 1000,
            "docs/latin1.txt": "caf\xe9".encode("latin-1"),
            "empty.txt": "",
        }
    )
    return deployments.repo_connect(
        project=project,
        provider="git",
        owner="team",
        name="code",
        clone_url=git.url,
        actor=world.member,
    )


def _sync(repo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return repo_sync.repo_sync_run(repo_id=repo.pk)


def _chunk_set(namespace):
    return {
        (c.pk, c.text, tuple(sorted(c.metadata.items())))
        for c in Chunk.objects.filter(namespace=namespace)
    }


def _writes(queries):
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")
    ]


def test_line_chunks_overlap_and_know_their_lines():
    text = "".join(f"line {i}\n" for i in range(1, 131))
    chunks = chunk_lines(text, lines=60, overlap=10)
    assert [(c.line_start, c.line_end) for c in chunks] == [(1, 60), (51, 110), (101, 130)]
    assert chunks[1].text.splitlines()[0] == "line 51"
    assert chunks[2].text.splitlines()[-1] == "line 130"
    assert text[chunks[1].char_start : chunks[1].char_end].startswith("line 51\n")
    assert language_of("src/app.py") == "python" and language_of("Dockerfile") == "dockerfile"
    assert language_of("web/x.tsx") == "typescript" and language_of("LICENSE") == "text"


def test_sync_indexes_the_commits_text_files_on_celery_after_commit(
    repo, git, eager, embedder, django_capture_on_commit_callbacks
):
    _sync(repo, django_capture_on_commit_callbacks)
    ns = store.namespace_for(repo.project_id, "repo", repo.pk)
    assert ns == f"project:{repo.project_id}:repo:{repo.pk}"
    chunks = list(Chunk.objects.filter(namespace=ns).order_by("metadata__path", "ordinal"))
    # the sync's own commit (.draftforge/stats.json) is a text file of the commit too
    assert {c.metadata["path"] for c in chunks} == {
        "README.md", "src/app.py", ".draftforge/stats.json"
    }  # fmt: skip
    app = [c for c in chunks if c.metadata["path"] == "src/app.py"]
    assert [(c.metadata["chunkStart"], c.metadata["chunkEnd"]) for c in app] == [
        (1, 60),
        (51, 100),
    ]
    head = git.head()
    for c in chunks:
        assert c.type == "code"
        assert c.metadata["repoId"] == str(repo.pk)
        assert c.metadata["commitSha"] == head
        assert set(c.metadata) >= {"repoId", "path", "language", "commitSha"}
    assert app[0].metadata["language"] == "python"
    assert app[0].text.startswith("def handler_0(request):")
    assert Embedding.objects.filter(namespace=ns).count() == len(chunks)
    index = RepoIndex.objects.get(repo_id=repo.pk)
    assert index.commit_sha == head and index.chunks == len(chunks)
    reasons = {p: s["reason"] for p, s in index.skipped.items()}
    assert reasons == {
        "assets/logo.png": "a binary file type",
        "data/blob.dat": "binary (NUL bytes)",
        "docs/huge.txt": "larger than 4000 bytes (8000)",
        "docs/latin1.txt": "not UTF-8 text",
        "empty.txt": "empty",
    }


def test_resync_is_idempotent_and_changes_replace_only_their_files(
    repo, git, eager, embedder, django_capture_on_commit_callbacks
):
    _sync(repo, django_capture_on_commit_callbacks)
    ns = store.namespace_for(repo.project_id, "repo", repo.pk)
    before = _chunk_set(ns)
    app_ids = set(
        Chunk.objects.filter(namespace=ns, metadata__path="src/app.py").values_list("id", flat=True)
    )
    readme_ids = set(
        Chunk.objects.filter(namespace=ns, metadata__path="README.md").values_list("id", flat=True)
    )

    # The same commit again: no embedding call, no row written.
    calls = embedder.calls
    with CaptureQueriesContext(connection) as queries:
        report = repos.repo_ingest(repo_id=repo.pk, project_id=repo.project_id)
    assert report.outcome == "current"
    assert embedder.calls == calls and _writes(queries) == []

    # A new commit that touches no indexed text (a binary changes): zero calls, zero chunk rows.
    git.commit({"assets/logo.png": b"\x89PNG\r\n\x1a\nother"})
    with CaptureQueriesContext(connection) as queries:
        _sync(repo, django_capture_on_commit_callbacks)
    assert embedder.calls == calls
    touched = [w for w in _writes(queries) if "vectors_chunk" in w or "vectors_embedding" in w]
    assert touched == []
    assert {c[0] for c in _chunk_set(ns)} == {c[0] for c in before}

    # README changes, a file is added, app.py untouched: only README and the new file embed.
    embedder.texts = 0
    git.commit(
        {"README.md": README + "\nNow with crevasse maps.\n", "src/util.go": "package util\n"}
    )
    _sync(repo, django_capture_on_commit_callbacks)
    assert embedder.texts == 2  # one chunk each
    now_app = set(
        Chunk.objects.filter(namespace=ns, metadata__path="src/app.py").values_list("id", flat=True)
    )
    now_readme = set(
        Chunk.objects.filter(namespace=ns, metadata__path="README.md").values_list("id", flat=True)
    )
    assert now_app == app_ids and now_readme.isdisjoint(readme_ids)
    readme = Chunk.objects.get(namespace=ns, metadata__path="README.md")
    assert "crevasse" in readme.text and readme.metadata["commitSha"] == git.head()
    go = Chunk.objects.get(namespace=ns, metadata__path="src/util.go")
    assert go.metadata["language"] == "go"
    assert not Chunk.objects.filter(pk__in=readme_ids).exists()
    assert not Embedding.objects.filter(chunk_id__in=readme_ids).exists()

    # Deleting a file drops its chunks; a file that turns binary drops them too.
    git.commit({"src/app.py": None, "README.md": b"\x00\x01binary now"})
    _sync(repo, django_capture_on_commit_callbacks)
    assert set(Chunk.objects.filter(namespace=ns).values_list("metadata__path", flat=True)) == {
        "src/util.go",
        ".draftforge/stats.json",
    }
    assert not Embedding.objects.filter(chunk_id__in=app_ids).exists()
    assert RepoIndex.objects.get(repo_id=repo.pk).skipped["README.md"]["reason"] == (
        "binary (NUL bytes)"
    )


def test_a_failed_replacement_leaves_the_old_commit_searchable(
    repo, git, eager, embedder, django_capture_on_commit_callbacks, monkeypatch
):
    _sync(repo, django_capture_on_commit_callbacks)
    ns = store.namespace_for(repo.project_id, "repo", repo.pk)
    before = _chunk_set(ns)
    first = RepoIndex.objects.get(repo_id=repo.pk).commit_sha
    git.commit({"README.md": "# Rewritten\n", "src/app.py": None})

    def boom(chunks):
        raise RuntimeError("disk full")

    repo_sync.repo_sync_run(repo_id=repo.pk)  # synced; its indexing callback not run yet
    monkeypatch.setattr(store, "fts_insert", boom)  # fails after the old rows were deleted
    with pytest.raises(RuntimeError):
        repos.repo_ingest(repo_id=repo.pk, project_id=repo.project_id)
    assert _chunk_set(ns) == before
    assert RepoIndex.objects.get(repo_id=repo.pk).commit_sha == first


def test_search_repo_namespace_in_the_api_and_on_the_page(
    repo, world, eager, embedder, django_capture_on_commit_callbacks
):
    _sync(repo, django_capture_on_commit_callbacks)
    base = f"/api/v1/workspaces/{world.workspace.slug}/projects/{repo.project_id}/"
    client = api_client(world.viewer)
    for mode in ("hybrid", "vector", "keyword"):
        response = client.post(
            base + "search/",
            {"query": "glacier moves", "namespace": "repo", "repo": str(repo.pk), "mode": mode},
            format="json",
        )
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        assert results and all(r["type"] == "code" for r in results), mode
        top = results[0]
        assert set(top["metadata"]) >= {
            "repoId", "path", "language", "commitSha", "chunkStart", "chunkEnd"
        }  # fmt: skip
    py = client.post(
        base + "search/",
        {
            "query": "render glacier handler",
            "namespace": "repo",
            "repo": str(repo.pk),
            "filter": {"language": "python"},
        },
        format="json",
    ).json()["results"]
    assert py and {r["metadata"]["path"] for r in py} == {"src/app.py"}
    assert (
        client.post(
            base + "search/", {"query": "x", "namespace": "repo", "repo": "nope"}, format="json"
        ).status_code
        == 400
    )
    # chunk search does not see code
    chunks = client.post(base + "search/", {"query": "glacier"}, format="json").json()
    assert chunks["results"] == []

    page = signed_in(world.member).get(
        f"/w/{world.workspace.slug}/p/{repo.project.slug}/search/",
        {"q": "render glacier handler", "ns": f"repo:{repo.pk}"},
    )
    body = page.content.decode()
    assert page.status_code == 200
    assert f'value="repo:{repo.pk}" selected' in body
    assert "src/app.py" in body and "lines 1–60" in body


def test_reindex_rebuilds_repo_namespaces_with_the_same_chunks(
    repo, eager, embedder, django_capture_on_commit_callbacks
):
    _sync(repo, django_capture_on_commit_callbacks)
    ns = store.namespace_for(repo.project_id, "repo", repo.pk)
    before = _chunk_set(ns)
    assert before
    Chunk.objects.filter(namespace=ns).delete()  # the derived data is lost
    RepoIndex.objects.all().delete()
    call_command("reindex", project=str(repo.project_id), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _chunk_set(ns) == before
    assert RepoIndex.objects.get(repo_id=repo.pk).chunks == len(before)
    # and a reindex of an intact namespace reproduces it too
    call_command("reindex", project=str(repo.project_id), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _chunk_set(ns) == before


def test_recall_audit_covers_repo_namespaces(
    repo, eager, embedder, django_capture_on_commit_callbacks
):
    _sync(repo, django_capture_on_commit_callbacks)
    ns = store.namespace_for(repo.project_id, "repo", repo.pk)
    for q in ("glacier tools", "render handler", "request"):
        services.search(project=repo.project, query=q, namespace="repo", repo=repo.pk)
    services.recall_audit_run(seed=1)
    audit = RecallAudit.objects.get(namespace=ns)
    assert audit.queries == 3 and audit.recall == 1.0 and not audit.flagged
