"""Tenancy contracts of the repository-sync routes. The inbound hook
(`/api/v1/hooks/git/{repo_id}/`) and the signed export download
(`/api/v1/exports/download/<token>/`) are outside `/api/v1/workspaces/…` on purpose: GitHub
and a browser following a link call them, and they are authenticated by the body's HMAC and
by the link's signature (tested below), not by a session or a membership."""

import tempfile
from pathlib import Path

import pytest

from deployments import draftforge as df
from deployments import services
from deployments.models import RepoDelivery
from deployments.services import agent_runs, exports, repo_sync
from tests.factories import ProjectFactory
from tests.tenancy import TenancyContract, api_client

from .gitrepo import SEED_CONFIG, GitRepo, hook_url, push_body, words


class RepoProjectEndpoint(TenancyContract):
    resource = ""

    def setup_world(self, world):
        project = ProjectFactory(workspace=world.workspace)
        git = GitRepo(Path(tempfile.mkdtemp(prefix="hf-tenancy-")) / "r.git")
        git.commit({df.CONFIG: SEED_CONFIG, "chapters/01.md": words(5)})
        repo = services.repo_connect(project=project, provider="git", owner="o", name="r",
                                     clone_url=git.url, actor=world.owner)  # fmt: skip
        repo_sync.repo_sync_run(repo_id=repo.pk)
        world.context.update(project=project, repo=repo, git=git)

    def base(self, world) -> str:
        project = world.context["project"]
        return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/"

    def list_url(self, world):
        return self.base(world) + self.resource

    def make_rows(self, world, n):
        pass


class TestAgentRunTenancy(RepoProjectEndpoint):
    routes = ("deployments-api:agent-run-list", "deployments-api:agent-run-detail",
              "deployments-api:agent-run-cancel")  # fmt: skip
    resource = "agent-runs/"
    list_queries = 5

    def write(self, world):
        return "post", self.list_url(world), {"agent": "word_count"}

    def make_rows(self, world, n):
        for _ in range(n):
            agent_runs.agent_run_enqueue(project=world.context["project"], agent="style")

    def _run(self, world):
        if "run" not in world.context:
            world.context["run"], _ = agent_runs.agent_run_enqueue(
                project=world.context["project"], agent="word_count")  # fmt: skip
        return world.context["run"]

    def detail_url(self, world):
        return f"{self.list_url(world)}{self._run(world).pk}/"

    def probes(self, world):
        return [("post", f"{self.detail_url(world)}cancel/", {})]


class TestExportTenancy(RepoProjectEndpoint):
    routes = ("deployments-api:export-list", "deployments-api:export-detail",
              "deployments-api:export-link")  # fmt: skip
    resource = "exports/"
    list_queries = 5

    def write(self, world):
        return "post", self.list_url(world), {"format": "epub"}

    def make_rows(self, world, n):
        for _ in range(n):
            exports.export_create(project=world.context["project"], format="pdf",
                                  actor=world.member)  # fmt: skip

    def _job(self, world):
        if "job" not in world.context:
            job = exports.export_create(project=world.context["project"], format="epub",
                                        actor=world.member)  # fmt: skip
            world.context["job"] = exports.export_build(job_id=job.pk)
        return world.context["job"]

    def detail_url(self, world):
        return f"{self.list_url(world)}{self._job(world).pk}/"

    def probes(self, world):
        return [("post", f"{self.detail_url(world)}link/", {})]


class TestStatsTenancy(RepoProjectEndpoint):
    routes = ("deployments-api:project-stats",)
    resource = "stats/"
    list_queries = 5


class TestSettingsTenancy(RepoProjectEndpoint):
    routes = ("deployments-api:project-settings",)
    resource = "settings/"
    list_queries = 5

    def write(self, world):
        return "patch", self.list_url(world), {"project": {"genre": "mystery"}}


class TestRepoSyncTenancy(RepoProjectEndpoint):
    routes = ("deployments-api:repo-sync", "deployments-api:repo-webhook-secret")
    list_queries = 5

    def list_url(self, world):
        return f"{self.base(world)}repos/{world.context['repo'].pk}/sync/"

    def write(self, world):
        return "post", self.list_url(world), {}

    def probes(self, world):
        return [("post", f"{self.base(world)}repos/{world.context['repo'].pk}/webhook-secret/",
                 {})]  # fmt: skip


class TestRepoDeliveryTenancy(RepoProjectEndpoint):
    routes = ("deployments-api:repo-delivery-list",)
    list_queries = 5

    def list_url(self, world):
        return f"{self.base(world)}repos/{world.context['repo'].pk}/deliveries/"

    def make_rows(self, world, n):
        start = RepoDelivery.objects.count()
        for i in range(n):
            RepoDelivery.objects.create(repo=world.context["repo"], delivery_id=f"d{start + i}",
                                        event="push")  # fmt: skip


@pytest.mark.django_db
def test_only_admins_rotate_the_webhook_secret():
    from tests.tenancy import make_tenant_world

    world = make_tenant_world()
    RepoProjectEndpoint().setup_world(world)
    repo = world.context["repo"]
    url = f"{RepoProjectEndpoint().base(world)}repos/{repo.pk}/webhook-secret/"
    assert api_client(world.member).post(url).status_code == 403
    assert api_client(world.admin).post(url).status_code == 200


@pytest.mark.django_db
def test_the_hook_is_authenticated_by_its_signature_alone(world):
    """No session or token opens the hook; another repository's secret does not either."""
    RepoProjectEndpoint().setup_world(world)
    repo = world.context["repo"]
    other = RepoProjectEndpoint()
    other_world = type(world)(**{**world.__dict__, "context": {}})
    other.setup_world(other_world)
    body = push_body(before=None, after=world.context["git"].head())
    foreign = repo_sync.signature_for(repo_sync.webhook_secret(repo=other_world.context["repo"]),
                                      body)  # fmt: skip
    for client in (api_client(world.owner), api_client()):
        response = client.post(hook_url(repo), body, content_type="application/json",
                               HTTP_X_GITHUB_EVENT="push", HTTP_X_GITHUB_DELIVERY="x",
                               HTTP_X_HUB_SIGNATURE_256=foreign)  # fmt: skip
        assert response.status_code == 401
    assert not RepoDelivery.objects.exists()
