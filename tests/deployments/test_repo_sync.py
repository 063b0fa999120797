"""Repository → database: the signed push hook, replays, tree-diff sync (more than 20
commits, force pushes, a zero `before`, out-of-order deliveries), invalid files, and the
seed's example files syncing unchanged."""

import json

import pytest
from django.core import mail

from deployments import draftforge as df
from deployments.models import RepoDelivery, RepoSyncState
from deployments.services import repo_sync
from tests.tenancy import api_client

from .gitrepo import SEED_CONFIG, SEED_METADATA, hook_headers, hook_url, push_body, words

pytestmark = pytest.mark.django_db


def deliver(repo, before, after, *, delivery=None, forced=False, secret=None, capture=None):
    body = push_body(before=before, after=after, forced=forced)
    headers = hook_headers(repo, body, delivery=delivery, secret=secret)
    return api_client().post(hook_url(repo), body, content_type="application/json", **headers)


@pytest.fixture
def hook(connected, eager_celery, django_capture_on_commit_callbacks):
    def send(before, after, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(connected, before, after, **kwargs)

    return send


def state(repo) -> RepoSyncState:
    return RepoSyncState.objects.get(repo=repo)


def test_connect_returns_the_webhook_secret_once(world, project, git_repo):
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/repos/"
    response = api_client(world.member).post(
        url, {"provider": "git", "owner": "a", "name": "novel", "clone_url": git_repo.url},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    secret = response.json()["webhook_secret"]
    assert secret.startswith("hfgit_")
    detail = api_client(world.member).get(f"{url}{response.json()['id']}/").json()
    assert "webhook_secret" not in detail


def test_bad_signature_is_401_and_records_nothing(connected, git_repo, hook):
    sha = git_repo.commit({"chapters/01.md": words(5)})
    response = hook(None, sha, secret="hfgit_wrong")
    assert response.status_code == 401
    assert not RepoDelivery.objects.exists()
    assert not RepoSyncState.objects.filter(repo=connected, head_sha=sha).exists()
    body = push_body(before=None, after=sha)
    unsigned = api_client().post(
        hook_url(connected),
        body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY="d1",
    )
    assert unsigned.status_code == 401 and not RepoDelivery.objects.exists()


def test_push_syncs_and_a_replay_does_nothing_twice(connected, git_repo, hook, monkeypatch):
    sha = git_repo.commit({"chapters/01.md": words(7), df.CONFIG: SEED_CONFIG})
    response = hook(None, sha, delivery="abc-1")
    assert response.status_code == 202, response.content
    assert state(connected).settings["project"]["name"] == "My Novel"
    # config.yml runs the style agent on commit: its result is committed as our own commit
    head = git_repo.head()
    assert state(connected).head_sha == head and head in state(connected).own_commits
    assert git_repo.backend.log(head)[1].sha == sha
    calls = []
    monkeypatch.setattr(repo_sync, "repo_sync_run", lambda **kw: calls.append(kw))
    again = hook(None, sha, delivery="abc-1")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert calls == [] and RepoDelivery.objects.count() == 1
    assert RepoDelivery.objects.get().status == "synced"


def test_pushes_elsewhere_and_other_events_are_recorded_and_ignored(connected, git_repo):
    sha = git_repo.commit({"chapters/01.md": words(1)})
    body = push_body(before=None, after=sha, ref="refs/heads/draft")
    response = api_client().post(
        hook_url(connected), body, content_type="application/json", **hook_headers(connected, body)
    )
    assert response.status_code == 202
    assert RepoDelivery.objects.get().status == "ignored"
    ping = json.dumps({"zen": "hi"}).encode()
    response = api_client().post(
        hook_url(connected),
        ping,
        content_type="application/json",
        **hook_headers(connected, ping, event="ping"),
    )
    assert response.status_code == 202 and not RepoSyncState.objects.filter(head_sha=sha).exists()


def test_a_push_of_more_than_20_commits_counts_every_one(connected, git_repo, hook):
    first = git_repo.commit(
        {df.CONFIG: SEED_CONFIG.replace("stats_enabled: true", "stats_enabled: false")}
    )
    hook(None, first)
    shas = [git_repo.commit({f"chapters/{n:02d}.md": words(n + 1)}, when=1_761_000_000 + n * 86_400)
            for n in range(25)]  # fmt: skip
    response = hook(first, shas[-1])  # GitHub's payload would list only 20 of these
    assert response.status_code == 202
    s = state(connected)
    assert s.stats["current"]["word_count"] == sum(range(1, 26))
    assert s.stats["current"]["chapter_count"] == 25
    assert len(s.stats["history"]) == 25
    assert s.stats["streaks"]["longest_days"] == 25
    # stats_enabled is off: Holdfast wrote stats.json back, as its own commit
    head = git_repo.head()
    assert head != shas[-1] and head in s.own_commits and s.head_sha == head
    assert s.stats["current"]["last_commit_sha"] == shas[-1]
    assert json.loads(git_repo.backend.read(head, df.STATS)) == s.stats
    # the push event of that commit is an echo: nothing to do
    calls = RepoDelivery.objects.count()
    response = hook(shas[-1], head)
    assert RepoDelivery.objects.count() == calls + 1
    assert RepoDelivery.objects.latest("created_at").status == "skipped"


def test_force_push_and_zero_before(connected, git_repo, hook):
    a = git_repo.commit({"chapters/01.md": words(10)})
    b = git_repo.commit({"chapters/02.md": words(20)})
    hook(None, b)
    assert state(connected).stats["current"]["word_count"] == 30
    rewritten = git_repo.commit({"chapters/03.md": words(4)}, parent=a)  # drops b
    hook(b, rewritten, forced=True)
    files = [f["file"] for f in state(connected).stats["breakdown"]["chapters"]]
    assert files == ["chapters/01.md", "chapters/03.md"]
    assert state(connected).stats["current"]["word_count"] == 14
    orphan = git_repo.commit({"chapters/09.md": words(2)}, parent=None)  # brand-new history
    hook("0" * 40, orphan, forced=True)
    assert state(connected).stats["current"]["word_count"] == 2


def test_out_of_order_and_duplicate_deliveries_converge_to_the_head(connected, git_repo, hook):
    c1 = git_repo.commit({"chapters/01.md": words(1)})
    c2 = git_repo.commit({"chapters/01.md": words(2)})
    c3 = git_repo.commit({"chapters/01.md": words(3)})
    hook(c2, c3, delivery="third")
    hook(c1, c2, delivery="second")  # late
    hook(None, c1, delivery="first")  # later still
    hook(c2, c3, delivery="third")  # and a replay
    # the head is Holdfast's stats.json commit on top of c3 (no config: stats_enabled is off)
    assert state(connected).head_sha == git_repo.head()
    assert git_repo.backend.log(git_repo.head())[1].sha == c3
    assert state(connected).stats["current"]["word_count"] == 3
    assert state(connected).stats["current"]["last_commit_sha"] == c3
    assert RepoDelivery.objects.count() == 3


def test_an_invalid_file_is_rejected_with_its_pointer_and_the_cache_kept(
    connected, git_repo, hook, world
):
    good = git_repo.commit({df.CONFIG: SEED_CONFIG, df.METADATA: SEED_METADATA})
    hook(None, good)
    bad = git_repo.commit({df.CONFIG: SEED_CONFIG.replace("80000", "lots")})
    mail.outbox.clear()
    hook(good, bad)
    s = state(connected)
    assert s.status == "invalid"
    assert s.errors == [{"path": ".draftforge/config.yml", "pointer": "/project/target_word_count",
                         "message": "'lots' is not of type 'integer'"}]  # fmt: skip
    assert s.settings["project"]["target_word_count"] == 80000  # the previous value stands
    assert s.head_sha == bad
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {world.owner.email, world.admin.email}
    assert "/project/target_word_count" in mail.outbox[0].body
    broken_json = git_repo.commit({df.STATS: "{not json"})
    hook(bad, broken_json)
    assert {e["path"] for e in state(connected).errors} == {df.CONFIG, df.STATS}
    fixed = git_repo.commit({df.CONFIG: SEED_CONFIG, df.STATS: None})
    hook(broken_json, fixed)
    assert state(connected).status == "ok" and state(connected).errors == []


def test_the_seed_example_files_sync_unchanged(connected, git_repo, hook):
    seed_stats = {
        "version": "1.0.0",
        "project": {"name": "My Novel", "type": "novel", "target_word_count": 80000},
        "current": {"word_count": 45678, "chapter_count": 12, "character_count": 234567,
                    "last_updated": "2025-10-29T14:30:00Z", "last_commit_sha": "abc123def456"},
        "breakdown": {"chapters": [{"file": "chapters/01-the-beginning.md",
                                    "title": "The Beginning", "word_count": 3850,
                                    "character_count": 19234,
                                    "last_modified": "2025-10-28T10:15:00Z"}],
                      "manuscript": [{"file": "manuscript/outline.md", "word_count": 1250}]},
        "history": [{"date": "2025-10-29", "word_count": 45678, "chapter_count": 12,
                     "commits": 3, "words_written": 1250, "commit_sha": "abc123def456"}],
        "streaks": {"current_days": 7, "longest_days": 21, "last_write_date": "2025-10-29",
                    "total_writing_days": 87},
        "generated_by": "draftforge-stats-action",
        "generated_at": "2025-10-29T14:30:00Z",
    }  # fmt: skip
    run = {"run_id": "df-run-12345", "agent_type": "continuity", "trigger": "pr",
           "trigger_ref": "123", "timestamp": "2025-10-29T14:30:00Z",
           "model": "claude-3-5-sonnet", "status": "completed",
           "summary": "Found 2 continuity issues",
           "issues": [{"id": "cont-001", "severity": "error",
                       "category": "character_consistency", "file": "chapters/05.md",
                       "line": 45, "message": "Blue eyes here, brown in Chapter 3.",
                       "suggestion": "Update to match."}],
           "stats": {"files_analyzed": 5, "total_words": 12500, "tokens_used": 12500,
                     "cost_cents": 25, "duration_seconds": 8}}  # fmt: skip
    df.validate("agent-run", run, path="x")
    sha = git_repo.commit({
        df.CONFIG: SEED_CONFIG, df.METADATA: SEED_METADATA,
        df.STATS: json.dumps(seed_stats, indent=2),
        ".draftforge/agent-runs/2025-10-29_14-30-00_continuity_pr-123.json": json.dumps(run),
        "chapters/01-the-beginning.md": "# The Beginning\n\nOnce upon a time.\n",
        "manuscript/outline.md": words(4),
    })  # fmt: skip
    hook(None, sha)
    s = state(connected)
    assert s.status == "ok", s.errors
    assert s.stats == seed_stats  # stats_enabled is on: the Action's file is served as-is
    assert s.metadata["author"]["name"] == "Jane Author"
    assert s.settings["agents"]["style"]["checks"] == [
        "tense_consistency", "pov_shifts", "readability"]  # fmt: skip
    # Holdfast added only the style agent's run (config.yml: trigger commit); every file of
    # the author's is byte-for-byte what they pushed.
    added = git_repo.backend.diff(sha, git_repo.head())
    assert [(c.kind, c.path.split("_")[-2:]) for c in added] == [
        ("add", ["style", f"commit-{sha[:12]}.json"])]  # fmt: skip
    for path, blob in git_repo.backend.tree(sha).items():
        assert git_repo.backend.tree(git_repo.head())[path] == blob


def test_sync_on_demand(connected, git_repo, world):
    sha = git_repo.commit({"chapters/01.md": words(3)})
    base = f"/api/v1/workspaces/{world.workspace.slug}/projects/{connected.project_id}"
    response = api_client(world.member).post(f"{base}/repos/{connected.pk}/sync/")
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "synced"
    assert response.json()["state"]["head_sha"] == git_repo.head()  # + our stats.json
    assert git_repo.backend.log(git_repo.head())[1].sha == sha
    assert api_client(world.member).post(f"{base}/repos/{connected.pk}/sync/").json()[
        "outcome"] == "skipped"  # fmt: skip


def test_rotating_the_secret_invalidates_the_old_one(connected, git_repo, hook, world):
    old = repo_sync.webhook_secret(repo=connected)
    base = f"/api/v1/workspaces/{world.workspace.slug}/projects/{connected.project_id}"
    response = api_client(world.admin).post(f"{base}/repos/{connected.pk}/webhook-secret/")
    new = response.json()["webhook_secret"]
    assert new != old
    sha = git_repo.commit({"chapters/01.md": words(3)})
    assert hook(None, sha, secret=old).status_code == 401
    assert hook(None, sha, secret=new).status_code == 202


def test_schemas_are_served_and_valid_draft_2020_12(client):
    from jsonschema import Draft202012Validator

    for name in ("stats", "agent-run", "config", "metadata"):
        response = client.get(f"/schemas/{name}.json")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/schema+json"
        Draft202012Validator.check_schema(response.json())
    assert client.get("/schemas/nope.json").status_code == 404
