"""Database → repository (settings committed with a ruamel round trip, repo wins, no echo) and
stats (computed from the commit log, served from the cache or, without it, the repository)."""

import pytest
from django.db import DatabaseError

from deployments import draftforge as df
from deployments import git as git_mod
from deployments.git.local import DulwichBackend
from deployments.models import RepoSyncState
from deployments.services import repo_sync
from tests.tenancy import api_client

from .gitrepo import DAY, SEED_CONFIG, T0, words

pytestmark = pytest.mark.django_db

CONFIG_ON = SEED_CONFIG  # stats_enabled: true — the author's Action writes stats.json
CONFIG_OFF = SEED_CONFIG.replace("stats_enabled: true", "stats_enabled: false")


def url(world, project, tail):
    return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/{tail}"


def sync(repo):
    return repo_sync.repo_sync_run(repo_id=repo.pk)


def state(repo):
    return RepoSyncState.objects.get(repo=repo)


def test_patch_settings_commits_config_keeping_comments_and_order(
    connected, git_repo, world, project
):
    git_repo.commit({df.CONFIG: CONFIG_ON, "chapters/01.md": words(3)})
    sync(connected)
    response = api_client(world.member).patch(
        url(world, project, "settings/"),
        {"project": {"target_word_count": 90000}, "agents": {"timeline": {"enabled": True}}},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["conflicts"] == [] and body["commit_sha"] == git_repo.head()
    text = git_repo.backend.read(git_repo.head(), df.CONFIG).decode()
    assert "# The project, as DraftForge describes it." in text
    assert "  target_word_count: 90000\n" in text and 'version: "1.0"' in text
    expected = CONFIG_ON.replace("80000", "90000").replace(
        "  timeline:\n    enabled: false", "  timeline:\n    enabled: true"
    )
    assert text == expected  # only the two values changed, byte for byte
    s = state(connected)
    assert s.settings["project"]["target_word_count"] == 90000
    assert s.head_sha == git_repo.head()  # the cache is current: our push is no echo
    assert sync(connected) == "skipped"


def test_repo_wins_when_it_changed_the_same_key(connected, git_repo, world, project):
    git_repo.commit({df.CONFIG: CONFIG_ON})
    sync(connected)
    author = git_repo.commit({df.CONFIG: CONFIG_ON.replace("80000", "85000")})  # not synced yet
    response = api_client(world.member).patch(
        url(world, project, "settings/"),
        {"project": {"target_word_count": 90000, "genre": "science fiction"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["conflicts"] == [
        {"key": "project.target_word_count", "repository": 85000, "yours": 90000}
    ]
    text = git_repo.backend.read(git_repo.head(), df.CONFIG).decode()
    assert "target_word_count: 85000" in text and "genre: science fiction" in text
    assert git_repo.backend.log(git_repo.head())[1].sha == author
    assert state(connected).settings["project"]["target_word_count"] == 85000


def test_a_concurrent_ui_edit_never_loses_a_repo_edit(connected, git_repo, world, project):
    git_repo.commit({df.CONFIG: CONFIG_ON})
    sync(connected)

    class Racing(DulwichBackend):
        raced = False

        def commit(self, **kwargs):
            if not Racing.raced:  # the author pushes between our read and our commit
                Racing.raced = True
                git_repo.commit(
                    {
                        df.CONFIG: CONFIG_ON.replace("language: en", "language: fr"),
                        "chapters/new.md": words(5),
                    }  # fmt: skip
                )
            return super().commit(**kwargs)

    git_mod.set_backend_factory(lambda repo: Racing(git_repo.path))
    try:
        response = api_client(world.member).patch(
            url(world, project, "settings/"), {"project": {"genre": "mystery"}}, format="json"
        )
    finally:
        git_mod.set_backend_factory(None)
    assert response.status_code == 200, response.content
    head = git_repo.head()
    config = df.parse_yaml(git_repo.backend.read(head, df.CONFIG), path="c", schema_name="config")
    assert config["project"]["language"] == "fr" and config["project"]["genre"] == "mystery"
    assert git_repo.backend.read(head, "chapters/new.md") is not None
    # the cache was behind the author's push, so the next sync still reads it
    assert state(connected).head_sha != head
    sync(connected)
    assert state(connected).settings["project"]["language"] == "fr"


def test_invalid_settings_are_400_with_the_pointer(connected, git_repo, world, project):
    git_repo.commit({df.CONFIG: CONFIG_ON})
    sync(connected)
    before = git_repo.head()
    response = api_client(world.member).patch(
        url(world, project, "settings/"), {"compilation": {"formats": ["mobi"]}}, format="json"
    )
    assert response.status_code == 400
    assert "/compilation/formats/0" in str(response.json())
    assert git_repo.head() == before


def test_settings_without_a_repository_is_404(world, project):
    response = api_client(world.member).get(url(world, project, "settings/"))
    assert response.status_code == 404


def test_stats_history_and_streaks_from_the_commit_log(git_repo):
    git_repo.commit({df.CONFIG: CONFIG_ON}, when=T0)
    git_repo.commit({"chapters/01-the-start.md": "# The Start\n" + words(100)}, when=T0 + 60)
    git_repo.commit({"chapters/01-the-start.md": "# The Start\n" + words(150)}, when=T0 + 120)
    git_repo.commit({"chapters/02.md": words(50)}, when=T0 + DAY)
    git_repo.commit({"manuscript/outline.md": words(10)}, when=T0 + 2 * DAY)
    git_repo.commit({"chapters/02.md": words(20)}, when=T0 + 4 * DAY)
    git_repo.commit({"README.md": "not counted\n"}, when=T0 + 5 * DAY)
    stats, _ = df.compute_stats(git_repo.backend, git_repo.head())
    assert stats["current"]["word_count"] == 153 + 20 + 10
    assert stats["current"]["chapter_count"] == 2
    assert [c["title"] for c in stats["breakdown"]["chapters"]] == ["The Start", "02"]
    history = {h["date"]: h for h in stats["history"]}
    days = sorted(history)
    assert len(days) == 4
    assert history[days[0]]["commits"] == 2 and history[days[0]]["words_written"] == 153
    assert history[days[1]]["words_written"] == 50
    assert history[days[3]]["words_written"] == -30
    # streaks are as of the last write (the README commit a day later counts nothing)
    assert stats["streaks"] == {"current_days": 1, "longest_days": 3,
                                "last_write_date": days[3], "total_writing_days": 4}  # fmt: skip
    df.validate("stats", stats, path=df.STATS)


def test_incremental_stats_equal_a_full_computation(git_repo):
    git_repo.commit({"chapters/01.md": words(5)}, when=T0)
    stats, working = df.compute_stats(git_repo.backend, git_repo.head())
    for n in range(6):
        git_repo.commit({f"chapters/{n % 3:02d}.md": words(n * 7 + 1)}, when=T0 + n * DAY // 2)
        stats, working = df.compute_stats(git_repo.backend, git_repo.head(), previous=working)
    full, _ = df.compute_stats(git_repo.backend, git_repo.head())
    assert stats == full


@pytest.mark.parametrize("config", [CONFIG_ON, CONFIG_OFF])
def test_with_the_cache_emptied_stats_come_from_the_repo_unchanged(
    config, connected, git_repo, world, project
):
    git_repo.commit({df.CONFIG: config, "chapters/01.md": words(40)}, when=T0)
    git_repo.commit({"chapters/02.md": words(60)}, when=T0 + DAY)
    sync(connected)
    client = api_client(world.viewer)
    cached = client.get(url(world, project, "stats/"))
    assert cached.status_code == 200 and cached.json()["source"] == "database"
    RepoSyncState.objects.filter(repo=connected).update(stats=None)
    from_repo = client.get(url(world, project, "stats/"))
    assert from_repo.json()["source"] == "repository"
    assert {**from_repo.json(), "source": "database"} == cached.json()
    assert cached.json()["current"]["word_count"] == 100


def test_stats_fall_back_to_the_repo_when_the_database_read_fails(
    connected, git_repo, world, project, monkeypatch
):
    git_repo.commit({df.CONFIG: CONFIG_OFF, "chapters/01.md": words(12)})
    sync(connected)
    real_filter = RepoSyncState.objects.filter

    def broken(*args, **kwargs):
        raise DatabaseError("the stats table is unreadable")

    monkeypatch.setattr(RepoSyncState.objects, "filter", broken)
    response = api_client(world.viewer).get(url(world, project, "stats/"))
    monkeypatch.setattr(RepoSyncState.objects, "filter", real_filter)
    assert response.status_code == 200
    assert response.json()["source"] == "repository"
    assert response.json()["current"]["word_count"] == 12


def test_resync_command_rebuilds_the_cache(connected, git_repo):
    from django.core.management import call_command

    git_repo.commit({df.CONFIG: CONFIG_ON, "chapters/01.md": words(9)})
    sync(connected)
    before = state(connected).stats
    RepoSyncState.objects.filter(repo=connected).update(stats=None, settings={}, head_sha="")
    call_command("resync", "--repo", str(connected.pk))
    assert state(connected).stats == before
    assert state(connected).settings["project"]["name"] == "My Novel"


def test_draftforge_stats_command_for_ci(git_repo, capsys, tmp_path):
    import json

    from django.core.management import call_command

    git_repo.commit({"chapters/01.md": words(8)})
    call_command("draftforge_stats", str(git_repo.path))
    printed = json.loads(capsys.readouterr().out)
    assert printed["current"]["word_count"] == 8
    call_command("draftforge_stats", str(git_repo.path), "--commit")
    assert json.loads(git_repo.backend.read(git_repo.head(), df.STATS))["current"] == printed[
        "current"]  # fmt: skip


def test_an_unreadable_repository_is_a_json_502_not_a_500(connected, git_repo, world, project):
    """Found by schemathesis: stats, settings and sync on demand raised GitError (a 500)
    when the repository could not be read; the upstream's failure is a 502 `Error`."""
    import shutil

    shutil.rmtree(git_repo.path)  # the repository of record is gone
    client = api_client(world.member)
    answers = [
        client.get(url(world, project, "stats/")),
        client.patch(url(world, project, "settings/"), {"a": 1}, format="json"),
        client.post(url(world, project, f"repos/{connected.pk}/sync/")),
    ]
    # The API reads JSON bodies only: a form-encoded PATCH is refused before any work.
    form = client.patch(url(world, project, "settings/"), {"a": "1"}, format="multipart")
    assert form.status_code == 415, form.content
    for response in answers:
        assert response.status_code == 502, response.content
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "provider_error"
        assert "could not be read" in response.json()["detail"]
