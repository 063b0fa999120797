"""Both git backends behind one interface: a real dulwich repository made by the test, and
the GitHub backend against a local HTTP server speaking the endpoints it uses."""

import pytest

from deployments.git import HeadMoved, commit_with_retry
from deployments.git.github import GitHubBackend

from .fake_github_server import FakeGitHubServer
from .gitrepo import words


def test_local_tree_read_diff_and_log(git_repo):
    first = git_repo.commit({"chapters/01.md": words(3), "README.md": "hi\n"})
    second = git_repo.commit({"chapters/02.md": words(2), "README.md": None})
    backend = git_repo.backend
    assert set(backend.tree(second)) == {"chapters/01.md", "chapters/02.md"}
    assert backend.read(first, "README.md") == b"hi\n"
    assert backend.read(second, "README.md") is None
    changes = {(c.path, c.kind) for c in backend.diff(first, second)}
    assert changes == {("chapters/02.md", "add"), ("README.md", "delete")}
    assert {c.path for c in backend.diff(None, second)} == {"chapters/01.md", "chapters/02.md"}
    assert [c.sha for c in backend.log(second)] == [second, first]


def test_local_commit_is_compare_and_swap(git_repo):
    base = git_repo.commit({"a.md": "a\n"})
    git_repo.commit({"b.md": "b\n"})  # someone else pushed
    with pytest.raises(HeadMoved):
        git_repo.backend.commit(
            branch="main", expected_head=base, files={"c.md": b"c\n"}, message="m",
            author="H <h@x>",
        )  # fmt: skip
    assert git_repo.backend.read(git_repo.head(), "c.md") is None


def test_commit_with_retry_rebuilds_on_a_race(git_repo):
    git_repo.commit({"a.md": "a\n"})
    calls = []

    def build(head):
        calls.append(head)
        if len(calls) == 1:  # a push lands between our read and our commit
            git_repo.commit({"racer.md": "r\n"})
        return {"mine.md": b"m\n"}

    sha, parent = commit_with_retry(
        git_repo.backend, branch="main", build=build, message="m", author="H <h@x>"
    )
    assert len(calls) == 2 and parent == calls[1]
    tree = git_repo.backend.tree(sha)
    assert "racer.md" in tree and "mine.md" in tree  # nothing of the racer's was lost


def test_github_backend_against_a_local_server():
    with FakeGitHubServer() as gh:
        first = gh.store.seed(
            "main", {"chapters/01.md": b"one two\n", "x.md": b"x\n"}, date="2025-10-27T10:00:00Z"
        )
        backend = GitHubBackend(owner="author", name="novel", token=gh.token, api_url=gh.url)
        assert backend.head("main") == first
        assert backend.read(first, "chapters/01.md") == b"one two\n"
        sha = backend.commit(
            branch="main", expected_head=first,
            files={"chapters/02.md": b"three\n", "x.md": None}, message="m", author="H <h@x>",
        )  # fmt: skip
        assert backend.head("main") == sha
        assert {(c.path, c.kind) for c in backend.diff(first, sha)} == {
            ("chapters/02.md", "add"), ("x.md", "delete")}  # fmt: skip
        assert [c.sha for c in backend.log(sha)] == [sha, first]
        assert backend.log(sha)[1].time == 1761559200  # 2025-10-27T10:00:00Z


def test_github_backend_refuses_a_non_fast_forward_and_retries():
    with FakeGitHubServer() as gh:
        first = gh.store.seed("main", {"a.md": b"a\n"})
        backend = GitHubBackend(owner="o", name="n", token=gh.token, api_url=gh.url)
        # A push lands after our commit object exists but before the ref moves.
        gh.store.before_ref_update = lambda store: store.seed(
            "main", {"r.md": b"r\n"}, parent=first
        )
        with pytest.raises(HeadMoved):
            backend.commit(branch="main", expected_head=first, files={"m.md": b"m\n"},
                           message="m", author="H <h@x>")  # fmt: skip
        gh.store.before_ref_update = lambda store: store.seed(
            "main", {"r2.md": b"r\n"}, parent=store.refs["main"]
        )
        sha, _ = commit_with_retry(backend, branch="main", build=lambda h: {"m.md": b"m\n"},
                                   message="m", author="H <h@x>")  # fmt: skip
        tree = GitHubBackend(owner="o", name="n", token=gh.token, api_url=gh.url).tree(sha)
        assert {"a.md", "r.md", "r2.md", "m.md"} <= set(tree)


def test_github_backend_needs_a_token_from_the_environment():
    from deployments.git import GitError

    with pytest.raises(GitError, match="GITHUB_TOKEN"):
        GitHubBackend(owner="o", name="n", token="", api_url="https://api.github.com")


@pytest.mark.django_db
def test_a_github_repository_syncs_through_the_same_service(settings, project, world):
    import json

    from deployments import draftforge as df
    from deployments import services
    from deployments.models import RepoSyncState
    from deployments.services import repo_sync

    with FakeGitHubServer() as gh:
        settings.GITHUB_API_URL, settings.GITHUB_TOKEN = gh.url, gh.token
        first = gh.store.seed("main", {"chapters/01.md": b"one two three\n"},
                              date="2025-10-27T10:00:00Z")  # fmt: skip
        gh.store.seed("main", {"chapters/02.md": b"four five\n"}, parent=first,
                      date="2025-10-28T10:00:00Z")  # fmt: skip
        repo = services.repo_connect(project=project, provider="github", owner="author",
                                     name="novel", actor=world.member)  # fmt: skip
        assert repo_sync.repo_sync_run(repo_id=repo.pk) == "synced"
        state = RepoSyncState.objects.get(repo=repo)
        assert state.stats["current"]["word_count"] == 5
        assert [h["words_written"] for h in state.stats["history"]] == [2, 3]
        # no config.yml: stats_enabled is off, so stats.json was committed through the API
        head = gh.store.refs["main"]
        assert state.head_sha == head and head in state.own_commits
        blob = gh.store.objects[gh.store.objects[gh.store.objects[head]["tree"]]["entries"][
            df.STATS]]["content"]  # fmt: skip
        import base64

        assert json.loads(base64.b64decode(blob)) == state.stats
