"""The project page's repository section: stats SVG, streaks, sync errors, and the settings
form that commits config.yml (repo wins, shown to the user)."""

import pytest

from deployments import draftforge as df
from deployments import services
from deployments.services import repo_sync
from tests.pages import PageContract, signed_in

from .gitrepo import DAY, SEED_CONFIG, T0, words


class TestRepoSyncSection(PageContract):
    queries = 6
    write_marker = 'id="repo-settings-form"'

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/p/{filled.project.slug}/repo-sync/"

    def write(self, world, filled):
        return self.url(world, filled) + "settings/", {"genre": "mystery"}

    @pytest.fixture(autouse=True)
    def _connected(self, monkeypatch, tmp_path):
        """Every filled project gets a synced local repository."""
        from tests import pages

        from .gitrepo import GitRepo

        real_fill = pages.fill

        def fill(world, n):
            filled = real_fill(world, n)
            git = GitRepo(tmp_path / f"{filled.project.pk}.git")
            git.commit({df.CONFIG: SEED_CONFIG, "chapters/01.md": words(n + 3)}, when=T0)
            git.commit({"chapters/02.md": words(n)}, when=T0 + DAY)
            repo = services.repo_connect(
                project=filled.project, provider="git", owner="o", name="r",
                clone_url=git.url, actor=world.owner,
            )  # fmt: skip
            repo_sync.repo_sync_run(repo_id=repo.pk)
            return filled

        monkeypatch.setattr(pages, "fill", fill)


@pytest.mark.django_db
def test_section_plots_history_and_commits_the_settings_form(connected, git_repo, world,
                                                             project):  # fmt: skip
    git_repo.commit({df.CONFIG: SEED_CONFIG, "chapters/01.md": words(30)}, when=T0)
    git_repo.commit({"chapters/02.md": words(20)}, when=T0 + DAY)
    repo_sync.repo_sync_run(repo_id=connected.pk)
    url = f"/w/{world.workspace.slug}/p/{project.slug}/repo-sync/"
    client = signed_in(world.member)
    page = client.get(url).content.decode()
    assert "<strong>50</strong> words in 2 chapters" in page
    assert "<polyline" in page and 'aria-label="Word count per day' in page
    assert "streak 2 days" in page
    # the author changes the target meanwhile; the form still shows the cached 80000
    git_repo.commit({df.CONFIG: SEED_CONFIG.replace("80000", "85000")})
    response = client.post(url + "settings/", {"name": "My Novel", "genre": "mystery",
                                               "target_word_count": "90000",
                                               "stats_enabled": "on"})  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200, body
    assert "its values stand" in body and "project.target_word_count" in body
    assert "Committed" in body
    text = git_repo.backend.read(git_repo.head(), df.CONFIG).decode()
    assert "genre: mystery" in text and "target_word_count: 85000" in text
    bad = client.post(url + "settings/", {"target_word_count": "-3"})
    assert bad.status_code == 400 and 'value="-3"' in bad.content.decode()


@pytest.mark.django_db
def test_project_page_embeds_the_section_lazily(world, project):
    page = signed_in(world.viewer).get(f"/w/{world.workspace.slug}/p/{project.slug}/?tab=repo-sync")
    assert (
        f'hx-get="/w/{world.workspace.slug}/p/{project.slug}/repo-sync/"' in page.content.decode()
    )
