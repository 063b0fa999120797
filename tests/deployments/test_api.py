"""Every pipeline endpoint passes the tenancy contract; detail routes are scoped too; the
required indexes exist; every model is registered with the right data class."""

import itertools

import pytest
from django.db import connection

from deployments import services
from deployments.models import ApprovalScope
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
    resource = "runs/"

    def write(self, world):
        return "post", self.list_url(world), {"kind": "research"}

    def make_rows(self, world, n):
        for _ in range(n):
            services.run_create(project=world.context["project"], kind="impl", actor=world.member)


class TestSteps(ProjectEndpoint):
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
    resource = "previews/"

    def write(self, world):
        return "post", self.list_url(world), {"slug": f"new-{_uid()}", "visibility": "team"}

    def make_rows(self, world, n):
        for _ in range(n):
            services.preview_create(
                project=world.context["project"], slug=f"p-{_uid()}", actor=world.member
            )


class TestPreviewVersions(ProjectEndpoint):
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

    for model in apps.get_app_config("deployments").get_models():
        entry = registry.entry_for_model(model)
        assert entry is not None, model
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
