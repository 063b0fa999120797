"""Every pipeline endpoint passes the tenancy contract; detail routes are scoped too; the
required indexes exist; every model is registered with the right data class."""

import itertools

import pytest
from django.db import connection

from deployments import services
from deployments.models import ApprovalScope, InfraResource
from governance import registry
from governance.immutability import is_immutable
from tests.factories import ProjectFactory
from tests.tenancy import TenancyContract, api_client

from .helpers import approved

_n = itertools.count()


def _uid() -> int:
    return next(_n)


class ProjectEndpoint(TenancyContract):
    resource = ""

    def setup_world(self, world):
        world.context["project"] = ProjectFactory(workspace=world.workspace)

    def base(self, world) -> str:
        project = world.context["project"]
        return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/"

    def list_url(self, world):
        return self.base(world) + self.resource


class TestRepos(ProjectEndpoint):
    routes = ("deployments-api:repo-list", "deployments-api:repo-detail",
              "deployments-api:repo-push", "deployments-api:repo-merge")  # fmt: skip
    list_queries = 5

    def _repo(self, world):
        if "repo" not in world.context:
            world.context["repo"] = services.repo_connect(
                project=world.context["project"], provider="github", owner="a",
                name=f"d{_uid()}", actor=world.member,
            )  # fmt: skip
        return world.context["repo"]

    def detail_url(self, world):
        return f"{self.list_url(world)}{self._repo(world).pk}/"

    def update(self, world):
        return "patch", self.detail_url(world), {"default_branch": "trunk"}

    def probes(self, world):
        url = self.detail_url(world)
        return [("post", f"{url}push/", {}), ("post", f"{url}merge/", {})]

    resource = "repos/"

    def write(self, world):
        return "post", self.list_url(world), {"provider": "github", "owner": "acme", "name": "x"}

    def make_rows(self, world, n):
        for _ in range(n):
            services.repo_connect(
                project=world.context["project"], provider="git", owner="o",
                name=f"r{_uid()}", actor=world.member,
            )  # fmt: skip


class TestRuns(ProjectEndpoint):
    routes = ("deployments-api:run-list", "deployments-api:run-detail",
              "deployments-api:run-transition")  # fmt: skip
    list_queries = 5

    def detail_url(self, world):
        if "run" not in world.context:
            world.context["run"], _ = services.run_create(
                project=world.context["project"], kind="impl", actor=world.member
            )
        return f"{self.list_url(world)}{world.context['run'].pk}/"

    def probes(self, world):
        return [("post", f"{self.detail_url(world)}transition/", {})]

    resource = "runs/"

    def write(self, world):
        return "post", self.list_url(world), {"kind": "research"}

    def make_rows(self, world, n):
        for _ in range(n):
            services.run_create(project=world.context["project"], kind="impl", actor=world.member)


class TestSteps(ProjectEndpoint):
    routes = ("deployments-api:run-steps",)
    list_queries = 6

    def setup_world(self, world):
        super().setup_world(world)
        world.context["run"], _ = services.run_create(
            project=world.context["project"], kind="impl", actor=world.member
        )

    def list_url(self, world):
        return self.base(world) + f"runs/{world.context['run'].pk}/steps/"

    def write(self, world):
        return "post", self.list_url(world), {"step_id": "plan", "status": "succeeded"}

    def make_rows(self, world, n):
        for _ in range(n):
            services.step_record(run=world.context["run"], step_id=f"s{_uid()}", status="running")


class TestArtifacts(ProjectEndpoint):
    routes = ("deployments-api:artifact-list", "deployments-api:artifact-detail",
              "deployments-api:artifact-download", "deployments-api:artifact-export",
              "deployments-api:artifact-export-file")  # fmt: skip
    list_queries = 5

    def detail_url(self, world):
        if "artifact" not in world.context:
            world.context["artifact"] = services.artifact_create(
                project=world.context["project"], kind="spec", logical_key=f"d{_uid()}",
                content=b"x",
            )  # fmt: skip
        return f"{self.list_url(world)}{world.context['artifact'].pk}/"

    def probes(self, world):
        return [
            ("get", f"{self.detail_url(world)}download/", None),
            ("get", f"{self.list_url(world)}export.zip", None),
            ("get", f"{self.list_url(world)}export.zip/", None),
        ]

    resource = "artifacts/"

    def write(self, world):
        return "post", self.list_url(world), {"kind": "spec", "logical_key": "a.md", "content": "x"}

    def make_rows(self, world, n):
        for _ in range(n):
            services.artifact_create(
                project=world.context["project"], kind="spec", logical_key=f"k{_uid()}",
                content=b"x",
            )  # fmt: skip


class TestApprovals(ProjectEndpoint):
    routes = ("deployments-api:approval-list", "deployments-api:approval-detail",
              "deployments-api:approval-approve", "deployments-api:approval-reject")  # fmt: skip
    list_queries = 5

    def detail_url(self, world):
        if "approval" not in world.context:
            world.context["approval"], _ = services.approval_request(
                project=world.context["project"], scope="repo.push", payload={},
                intent_summary="x", actor=world.member,
            )  # fmt: skip
        return f"{self.list_url(world)}{world.context['approval'].pk}/"

    def probes(self, world):
        url = self.detail_url(world)
        return [("post", f"{url}approve/", {}), ("post", f"{url}reject/", {})]

    resource = "approvals/"

    def write(self, world):
        body = {"scope": "repo.push", "payload": {"branch": "b"}, "intent_summary": "push b"}
        return "post", self.list_url(world), body

    def make_rows(self, world, n):
        for _ in range(n):
            services.approval_request(
                project=world.context["project"], scope="repo.merge", payload={"n": _uid()},
                intent_summary="merge", actor=world.member,
            )  # fmt: skip


class TestSandboxJobs(ProjectEndpoint):
    routes = ("deployments-api:sandbox-job-list", "deployments-api:sandbox-job-detail",
              "deployments-api:sandbox-job-retry",
              "deployments-api:sandbox-job-transcript")  # fmt: skip
    list_queries = 5
    writer_role = "admin"  # a job runs arbitrary commands (docs/pipeline.md)

    def detail_url(self, world):
        if "job" not in world.context:
            world.context["job"], _ = services.sandbox_job_create(
                project=world.context["project"], job_type="verify.test", command=["true"],
                actor=world.member,
            )  # fmt: skip
        return f"{self.list_url(world)}{world.context['job'].pk}/"

    def probes(self, world):
        url = self.detail_url(world)
        return [("get", f"{url}transcript/", None), ("post", f"{url}retry/", {})]

    resource = "sandbox-jobs/"

    def write(self, world):
        return "post", self.list_url(world), {"job_type": "verify.test", "command": ["true"]}

    def make_rows(self, world, n):
        for _ in range(n):
            services.sandbox_job_create(
                project=world.context["project"], job_type="verify.lint", command=["true"],
                actor=world.member,
            )  # fmt: skip


class TestDeployments(ProjectEndpoint):
    routes = ("deployments-api:deployment-list", "deployments-api:deployment-detail",
              "deployments-api:deployment-cancel", "deployments-api:deployment-refresh",
              "deployments-api:deployment-transition",
              "deployments-api:deployment-rollback")  # fmt: skip
    list_queries = 5

    def detail_url(self, world):
        if "deployment" not in world.context:
            world.context["deployment"], _ = services.deployment_create(
                project=world.context["project"], environment="preview", commit_sha="d" * 40,
                actor=world.member,
            )  # fmt: skip
        return f"{self.list_url(world)}{world.context['deployment'].pk}/"

    def probes(self, world):
        url = self.detail_url(world)
        return [(verb, f"{url}{action}/", {}) for verb, action in
                (("post", "cancel"), ("post", "refresh"), ("post", "transition"),
                 ("post", "rollback"))]  # fmt: skip

    resource = "deployments/"

    def write(self, world):
        return "post", self.list_url(world), {"environment": "preview", "commit_sha": "ab" * 20}

    def make_rows(self, world, n):
        for _ in range(n):
            services.deployment_create(
                project=world.context["project"], environment="preview", commit_sha="c" * 40,
                actor=world.member,
            )  # fmt: skip


class TestPreviews(ProjectEndpoint):
    routes = ("deployments-api:preview-list", "deployments-api:preview-detail",
              "deployments-api:preview-rollback")  # fmt: skip
    list_queries = 5

    def detail_url(self, world):
        if "preview" not in world.context:
            world.context["preview"] = services.preview_create(
                project=world.context["project"], slug=f"d-{_uid()}", actor=world.member
            )
        return f"{self.list_url(world)}{world.context['preview'].slug}/"

    def update(self, world):
        return "patch", self.detail_url(world), {"visibility": "team"}

    def probes(self, world):
        return [("post", f"{self.detail_url(world)}rollback/", {})]

    resource = "previews/"

    def write(self, world):
        return "post", self.list_url(world), {"slug": f"new-{_uid()}", "visibility": "team"}

    def make_rows(self, world, n):
        for _ in range(n):
            services.preview_create(
                project=world.context["project"], slug=f"p-{_uid()}", actor=world.member
            )


class TestPreviewVersions(ProjectEndpoint):
    routes = ("deployments-api:preview-versions",)
    list_queries = 6

    def setup_world(self, world):
        super().setup_world(world)
        world.context["preview"] = services.preview_create(
            project=world.context["project"], slug=f"pv-{_uid()}", actor=world.member
        )

    def list_url(self, world):
        return self.base(world) + f"previews/{world.context['preview'].slug}/versions/"

    def write(self, world):
        return "post", self.list_url(world), {"content": {"title": "hi"}}

    def make_rows(self, world, n):
        for i in range(n):
            services.preview_version_create(
                preview=world.context["preview"], content={"i": i}, actor=world.member
            )


class TestInfraResources(ProjectEndpoint):
    routes = ("deployments-api:infra-resource-list", "deployments-api:infra-resource-detail")
    list_queries = 5

    def detail_url(self, world):
        if "resource" not in world.context:
            self.make_rows(world, 1)
            world.context["resource"] = InfraResource.objects.filter(
                project=world.context["project"]
            ).first()
        return f"{self.list_url(world)}{world.context['resource'].pk}/"

    resource = "infra-resources/"
    BODY = {"resource_type": "redis", "name": "cache"}

    def setup_world(self, world):
        super().setup_world(world)
        world.context["approval"] = approved(
            world.context["project"], world, ApprovalScope.INFRA_PROVISION, self.BODY
        )

    def write(self, world):
        return (
            "post",
            self.list_url(world),
            {**self.BODY, "approval": str(world.context["approval"].pk)},
        )

    def make_rows(self, world, n):
        for _ in range(n):
            body = {"resource_type": "kv", "name": f"kv{_uid()}"}
            approval = approved(
                world.context["project"], world, ApprovalScope.INFRA_PROVISION, body
            )
            services.infra_provision(
                project=world.context["project"], actor=world.member, approval_id=approval.pk,
                payload=body, **body,
            )  # fmt: skip


@pytest.fixture
def objects(world, fake_provider):
    project = ProjectFactory(workspace=world.workspace)
    run, _ = services.run_create(project=project, kind="impl", actor=world.member)
    repo = services.repo_connect(
        project=project, provider="github", owner="a", name="b", actor=world.member
    )
    artifact = services.artifact_create(project=project, kind="k", logical_key="l", content=b"c")
    approval, _ = services.approval_request(
        project=project, scope="repo.push", payload={}, intent_summary="x", actor=world.member
    )
    job, _ = services.sandbox_job_create(
        project=project, job_type="verify.test", command=["true"], actor=world.member
    )
    deployment, _ = services.deployment_create(
        project=project, environment="preview", commit_sha="d" * 40, actor=world.member
    )
    preview = services.preview_create(project=project, slug="detail", actor=world.member)
    base = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/"
    return [
        ("get", f"{base}repos/{repo.pk}/"),
        ("patch", f"{base}repos/{repo.pk}/"),
        ("post", f"{base}repos/{repo.pk}/push/"),
        ("post", f"{base}repos/{repo.pk}/merge/"),
        ("get", f"{base}runs/{run.pk}/"),
        ("post", f"{base}runs/{run.pk}/transition/"),
        ("get", f"{base}artifacts/{artifact.pk}/"),
        ("get", f"{base}artifacts/{artifact.pk}/download/"),
        ("get", f"{base}artifacts/export.zip"),
        ("get", f"{base}approvals/{approval.pk}/"),
        ("post", f"{base}approvals/{approval.pk}/approve/"),
        ("post", f"{base}approvals/{approval.pk}/reject/"),
        ("get", f"{base}sandbox-jobs/{job.pk}/"),
        ("get", f"{base}sandbox-jobs/{job.pk}/transcript/"),
        ("post", f"{base}sandbox-jobs/{job.pk}/retry/"),
        ("get", f"{base}deployments/{deployment.pk}/"),
        ("post", f"{base}deployments/{deployment.pk}/transition/"),
        ("post", f"{base}deployments/{deployment.pk}/refresh/"),
        ("post", f"{base}deployments/{deployment.pk}/cancel/"),
        ("get", f"{base}previews/{preview.slug}/"),
        ("patch", f"{base}previews/{preview.slug}/"),
        ("post", f"{base}previews/{preview.slug}/rollback/"),
    ]


def test_every_detail_route_is_404_for_outsiders_and_401_for_anonymous(world, objects):
    for method, url in objects:
        response = getattr(api_client(world.outsider), method)(url, {}, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        response = getattr(api_client(), method)(url, {}, format="json")
        assert response.status_code == 401, (method, url, response.status_code)


def test_every_detail_route_refuses_viewer_writes(world, objects):
    for method, url in objects:
        if method == "get":
            assert api_client(world.viewer).get(url).status_code == 200, url
        else:
            response = getattr(api_client(world.viewer), method)(url, {}, format="json")
            assert response.status_code == 403, (method, url, response.status_code)


def test_another_projects_ids_are_not_found(world, objects):
    other = ProjectFactory(workspace=world.workspace)
    for method, url in objects:
        if "/export.zip" in url:
            continue
        moved = url.replace(url.split("/projects/")[1].split("/")[0], str(other.pk))
        response = getattr(api_client(world.owner), method)(moved, {}, format="json")
        assert response.status_code == 404, (method, moved, response.status_code)


REQUIRED_INDEXES = {  # seed 003, "Required indexes (minimum)"
    "deployments_run": ["project_id"],
    "deployments_runstep": ["run_id", "name"],
    "deployments_artifact": ["project_id", "kind", "logical_key"],
    "deployments_repo": ["project_id"],
    "deployments_approval": ["run_id", "scope"],
    "deployments_sandboxjob": ["run_id", "job_type"],
    "deployments_deployment": ["project_id", "status"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(REQUIRED_INDEXES))
def test_the_required_indexes_exist(table):
    required = REQUIRED_INDEXES[table]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    prefixes = [
        c["columns"][: len(required)]
        for c in constraints.values()
        if (c["index"] or c["unique"]) and c["columns"]
    ]
    assert required in prefixes, constraints


@pytest.mark.django_db
def test_every_model_is_registered_critical_with_history_or_immutable(world):
    from django.apps import apps

    # The repository-sync caches are rebuildable from the repository (issue 14): not critical.
    caches = {"RepoSyncState": "semi_critical", "RepoDelivery": "ephemeral"}
    for model in apps.get_app_config("deployments").get_models():
        entry = registry.entry_for_model(model)
        assert entry is not None, model
        if model.__name__ in caches:
            assert entry.data_class == caches[model.__name__], model
            continue
        assert entry.data_class == "critical", model
        assert entry.backup, model
        registry.workspace_queryset(entry, world.workspace).count()  # the tenant path works
        if entry.history_of or (entry.append_only and entry.immutable):
            assert is_immutable(model._meta.db_table), model
        else:
            assert registry.has_history(model), model


def test_blob_stores_are_registered():
    keys = {e.key for e in registry.store_entries()}
    assert {
        "deployments.artifact_blobs",
        "deployments.preview_blobs",
        "deployments.sandbox_transcripts",
        "deployments.sandbox_workdirs",
    } <= keys


def test_a_sanctioned_purge_can_remove_a_projects_pipeline(world, objects):
    from django.db import transaction

    from deployments.models import Artifact, Deployment, Run
    from governance.immutability import allow_purge

    project = Run.objects.get().project
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017  refused without a permit
        project.delete()
    assert Deployment.objects.filter(project=project).exists()
    with transaction.atomic(), allow_purge():
        project.delete()
    assert not Deployment.objects.exists() and not Artifact.objects.exists()
