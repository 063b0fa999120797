"""Approvals: who may decide, audit of every decision, and side effects refused without an
approved, unexpired, unused approval for the exact action."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from deployments import services
from deployments.models import (
    Approval,
    ApprovalScope,
    ApprovalStatus,
    Deployment,
    InfraResource,
    Repo,
    RunStep,
)
from governance.models import AuditAction, AuditEvent
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, WorkspaceFactory
from tests.tenancy import api_client

from .helpers import approved, expire, status_of

SHA = "a" * 40
PROD = {"environment": "production", "commit_sha": SHA}


def _deploy(project, world, approval_id, payload=None):
    return services.deployment_create(
        project=project,
        environment="production",
        commit_sha=SHA,
        actor=world.member,
        approval_id=approval_id,
        payload=PROD if payload is None else payload,
    )


def test_request_stores_the_canonical_hash_and_a_redacted_copy(project, world):
    payload = {"b": 1, "a": {"token": "s3cr3t-value"}, "environment": "production"}
    approval, created = services.approval_request(
        project=project,
        scope=ApprovalScope.DEPLOY_PRODUCTION,
        payload=payload,
        intent_summary="Ship it",
        actor=world.member,
    )
    assert created and approval.status == ApprovalStatus.PENDING
    assert services.canonical_json(payload) == (
        b'{"a":{"token":"s3cr3t-value"},"b":1,"environment":"production"}'
    )
    assert approval.payload_sha256 == services.payload_sha256(payload)
    assert approval.payload["a"] == {"token": "[redacted]"}


def test_the_requester_cannot_approve_their_own_request(project, world):
    approval, _ = services.approval_request(
        project=project, scope="repo.push", payload={}, intent_summary="x", actor=world.admin
    )
    with pytest.raises(services.Forbidden, match="own request"):
        services.approval_approve(approval=approval, actor=world.admin)
    assert status_of(approval) == ApprovalStatus.PENDING
    assert not AuditEvent.objects.filter(target_id=str(approval.pk)).exists()


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_only_admins_and_owners_decide(project, world, role):
    approval, _ = services.approval_request(
        project=project, scope="repo.push", payload={}, intent_summary="x", actor=world.owner
    )
    with pytest.raises(services.Forbidden):
        services.approval_approve(approval=approval, actor=getattr(world, role))
    url = (
        f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}"
        f"/approvals/{approval.pk}/approve/"
    )
    assert api_client(getattr(world, role)).post(url, {}, format="json").status_code == 403
    assert status_of(approval) == ApprovalStatus.PENDING


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_each_decision_writes_an_audit_event(project, world, decision):
    approval, _ = services.approval_request(
        project=project, scope="repo.merge", payload={"head": "x"}, intent_summary="Merge x",
        actor=world.member,
    )  # fmt: skip
    url = (
        f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}"
        f"/approvals/{approval.pk}/{decision}/"
    )
    response = api_client(world.owner).post(url, {"note": "looks fine"}, format="json")
    assert response.status_code == 200, response.content
    expected = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
    assert response.json()["status"] == expected
    event = AuditEvent.objects.get(target_id=str(approval.pk))
    assert event.action == AuditAction.APPROVAL
    assert event.actor == world.owner and event.workspace == world.workspace
    assert event.data["decision"] == expected
    assert event.data["payload_sha256"] == approval.payload_sha256
    again = api_client(world.admin).post(url, {}, format="json")
    assert again.status_code == 409
    assert AuditEvent.objects.filter(target_id=str(approval.pk)).count() == 1


def test_an_expired_request_cannot_be_approved(project, world):
    approval, _ = services.approval_request(
        project=project, scope="repo.push", payload={}, intent_summary="x", actor=world.member
    )
    expire(approval)
    with pytest.raises(services.Conflict, match="expired"):
        services.approval_approve(approval=approval, actor=world.admin)


def test_production_deploy_uses_the_approval_once(project, world, fake_provider):
    approval = approved(project, world, ApprovalScope.DEPLOY_PRODUCTION, PROD)
    deployment, created = _deploy(project, world, approval.pk)
    assert created and deployment.approval_id == approval.pk
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.USED
    assert approval.used_by == world.member and str(deployment.pk) in approval.used_for
    assert len(fake_provider.calls) == 1
    with pytest.raises(services.ApprovalRefused, match="already used"):
        _deploy(project, world, approval.pk)
    assert Deployment.objects.count() == 1 and len(fake_provider.calls) == 1


REFUSALS = {
    "missing": lambda project, world: None,
    "unknown id": lambda project, world: "7d6f0f4e-0000-4000-8000-000000000000",
    "not a uuid": lambda project, world: "nope",
    "expired": lambda p, w: expire(approved(p, w, ApprovalScope.DEPLOY_PRODUCTION, PROD)).pk,
    "wrong scope": lambda p, w: approved(p, w, ApprovalScope.INFRA_PROVISION, PROD).pk,
    "wrong payload": lambda p, w: (
        approved(p, w, ApprovalScope.DEPLOY_PRODUCTION, {**PROD, "commit_sha": "b" * 40}).pk
    ),
    "pending": lambda p, w: (
        services.approval_request(
            project=p, scope="deploy.production", payload=PROD, intent_summary="x", actor=w.member
        )[0].pk
    ),
    "rejected": lambda p, w: (
        services.approval_reject(
            approval=services.approval_request(
                project=p,
                scope="deploy.production",
                payload=PROD,
                intent_summary="x",
                actor=w.member,
            )[0],
            actor=w.admin,
        ).pk
    ),
    "other project": lambda p, w: (
        approved(ProjectFactory(workspace=w.workspace), w, ApprovalScope.DEPLOY_PRODUCTION, PROD).pk
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_production_deploy_without_a_usable_approval_does_nothing(
    project, world, fake_provider, case
):
    approval_id = REFUSALS[case](project, world)
    before = {a.pk: (a.status, a.used_at) for a in Approval.objects.all()}
    with pytest.raises(services.ApprovalRefused):
        _deploy(project, world, approval_id)
    assert fake_provider.calls == []
    assert Deployment.objects.count() == 0
    assert {a.pk: (a.status, a.used_at) for a in Approval.objects.all()} == before


def test_an_already_used_approval_is_refused_over_the_api(project, world, fake_provider):
    approval = approved(project, world, ApprovalScope.DEPLOY_PRODUCTION, PROD)
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/deployments/"
    client = api_client(world.member)
    first = client.post(url, {**PROD, "approval": str(approval.pk)}, format="json")
    assert first.status_code == 201, first.content
    second = client.post(url, {**PROD, "approval": str(approval.pk)}, format="json")
    assert second.status_code == 403
    assert second.json()["code"] == "approval_used"
    assert Deployment.objects.count() == 1


def test_the_api_hashes_the_body_without_the_approval_field(project, world):
    body = {**PROD, "metadata": {"note": "release 1.2"}}
    approval = approved(project, world, ApprovalScope.DEPLOY_PRODUCTION, body)
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/deployments/"
    changed = {**body, "metadata": {"note": "release 1.3"}, "approval": str(approval.pk)}
    refused = api_client(world.member).post(url, changed, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "approval_payload_mismatch"
    ok = api_client(world.member).post(url, {**body, "approval": str(approval.pk)}, format="json")
    assert ok.status_code == 201, ok.content


def test_a_provider_failure_leaves_the_approval_unused(project, world, fake_provider):
    approval = approved(project, world, ApprovalScope.DEPLOY_PRODUCTION, PROD)
    fake_provider.fail = "provider down (token=abcdef123456)"
    with pytest.raises(services.ProviderFailed) as caught:
        _deploy(project, world, approval.pk)
    assert "abcdef123456" not in str(caught.value)
    assert status_of(approval) == ApprovalStatus.APPROVED
    assert Deployment.objects.count() == 0


def test_preview_deploys_need_no_approval(project, world, fake_provider):
    deployment, _ = services.deployment_create(
        project=project, environment="preview", commit_sha=SHA, actor=world.member
    )
    assert deployment.approval is None and deployment.status == "queued"


def _repo(project, world):
    return services.repo_connect(
        project=project, provider="github", owner="acme", name="site", actor=world.member
    )


def test_repo_push_needs_a_matching_approval_and_replays_by_step(project, world, fake_github):
    repo = _repo(project, world)
    run, _ = services.run_create(project=project, kind="implement", actor=world.member)
    body = {
        "branch": "feature",
        "files": {"README.md": "hello"},
        "message": "Add readme",
        "run": str(run.pk),
        "step_id": "push-1",
    }
    with pytest.raises(services.ApprovalRefused):
        services.repo_push(
            repo=repo, branch="feature", files={"README.md": "hello"}, message="Add readme",
            actor=world.member, approval_id=None, payload=body, run=run, step_id="push-1",
        )  # fmt: skip
    assert fake_github.calls == [] and not RunStep.objects.exists()
    approval = approved(project, world, ApprovalScope.REPO_PUSH, body)
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/repos/{repo.pk}/push/"
    client = api_client(world.member)
    first = client.post(url, {**body, "approval": str(approval.pk)}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["replayed"] is False
    commit = first.json()["result"]["commit_sha"]
    again = client.post(url, {**body, "approval": str(approval.pk)}, format="json")
    assert again.status_code == 200
    assert again.json() == {"result": {"commit_sha": commit, "branch": "feature"}, "replayed": True}
    assert len(fake_github.calls) == 1
    assert status_of(approval) == ApprovalStatus.USED
    step = RunStep.objects.get(run=run, step_id="push-1")
    assert step.status == "succeeded" and step.output["commit_sha"] == commit


def test_a_failed_push_records_a_failed_step_and_keeps_the_approval(project, world, fake_github):
    repo = _repo(project, world)
    run, _ = services.run_create(project=project, kind="implement", actor=world.member)
    body = {"branch": "b", "files": {"a.txt": "x"}, "message": "m"}
    approval = approved(project, world, ApprovalScope.REPO_PUSH, body)
    fake_github.fail = "push rejected"
    with pytest.raises(services.ProviderFailed):
        services.repo_push(
            repo=repo, branch="b", files={"a.txt": "x"}, message="m", actor=world.member,
            approval_id=approval.pk, payload=body, run=run, step_id="p",
        )  # fmt: skip
    assert status_of(approval) == ApprovalStatus.APPROVED
    step = RunStep.objects.get(run=run, step_id="p")
    assert step.status == "failed" and "push rejected" in step.error


def test_repo_merge_needs_its_own_scope(project, world, fake_github):
    repo = _repo(project, world)
    body = {"head": "feature"}
    push_approval = approved(project, world, ApprovalScope.REPO_PUSH, body)
    with pytest.raises(services.ApprovalRefused, match="repo.push, not repo.merge"):
        services.repo_merge(
            repo=repo, head="feature", actor=world.member, approval_id=push_approval.pk,
            payload=body,
        )  # fmt: skip
    merge_approval = approved(project, world, ApprovalScope.REPO_MERGE, body)
    result, replayed = services.repo_merge(
        repo=repo, head="feature", actor=world.member, approval_id=merge_approval.pk, payload=body
    )
    assert result["merged"] and not replayed
    assert fake_github.calls[0][1]["base"] == "main"


def test_infra_provisioning_needs_an_approval_and_stores_no_secret(project, world, fake_provider):
    body = {"resource_type": "postgres", "name": "app-db", "region": "fra1"}
    with pytest.raises(services.ApprovalRefused):
        services.infra_provision(
            project=project, resource_type="postgres", name="app-db", region="fra1",
            actor=world.member, approval_id=None, payload=body,
        )  # fmt: skip
    assert fake_provider.calls == [] and not InfraResource.objects.exists()
    approval = approved(project, world, ApprovalScope.INFRA_PROVISION, body)
    resource, created = services.infra_provision(
        project=project, resource_type="postgres", name="app-db", region="fra1",
        actor=world.member, approval_id=approval.pk, payload=body,
    )  # fmt: skip
    assert created and resource.external_id == "res_1" and resource.region == "fra1"
    resource.refresh_from_db()
    assert resource.metadata["connection_string"] == "[redacted]"
    assert resource.metadata["password"] == "[redacted]"
    assert resource.metadata["plan"] == "hobby"
    assert status_of(approval) == ApprovalStatus.USED


def test_expire_stale_marks_old_approvals_expired(project, world):
    pending, _ = services.approval_request(
        project=project, scope="repo.push", payload={}, intent_summary="x", actor=world.member
    )
    fresh = approved(project, world, ApprovalScope.REPO_PUSH, {"n": 1})
    expire(pending)
    assert services.approval_expire_stale() == 1
    assert status_of(pending) == ApprovalStatus.EXPIRED
    assert status_of(fresh) == ApprovalStatus.APPROVED


def test_approval_requests_are_idempotent_per_key(project, world):
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/approvals/"
    body = {"scope": "repo.push", "payload": {"branch": "x"}, "intent_summary": "push x"}
    client = api_client(world.member)
    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    second = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Approval.objects.count() == 1


def _threads(n, fn):
    barrier = threading.Barrier(n)

    def work(i):
        try:
            barrier.wait()
            return fn(i)
        except Exception as exc:  # collected and asserted on by the caller
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(work, range(n)))


def _concurrent_world():
    from accounts.models import Role

    workspace = WorkspaceFactory()
    users = {}
    for name, role in [("member", Role.MEMBER), ("admin", Role.ADMIN), ("owner", Role.OWNER)]:
        users[name] = UserFactory()
        MembershipFactory(team=workspace.team, user=users[name], role=role)
    return workspace, ProjectFactory(workspace=workspace), users


@pytest.mark.django_db(transaction=True)
def test_concurrent_decisions_record_exactly_one(postgres_only):
    workspace, project, users = _concurrent_world()
    approval, _ = services.approval_request(
        project=project, scope="repo.push", payload={}, intent_summary="x", actor=users["member"]
    )
    deciders = [users["admin"], users["owner"]] * 3
    results = _threads(
        len(deciders),
        lambda i: services.approval_approve(approval=approval, actor=deciders[i]),
    )
    assert sum(isinstance(r, Approval) for r in results) == 1
    assert all(isinstance(r, services.Conflict) for r in results if not isinstance(r, Approval))
    assert AuditEvent.objects.filter(target_id=str(approval.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_uses_of_one_approval_deploy_once(postgres_only, fake_provider):
    workspace, project, users = _concurrent_world()
    approval, _ = services.approval_request(
        project=project, scope="deploy.production", payload=PROD, intent_summary="x",
        actor=users["member"],
    )  # fmt: skip
    services.approval_approve(approval=approval, actor=users["admin"])
    results = _threads(
        6,
        lambda i: services.deployment_create(
            project=project, environment="production", commit_sha=SHA, actor=users["member"],
            approval_id=approval.pk, payload=PROD,
        ),
    )  # fmt: skip
    assert sum(isinstance(r, tuple) for r in results) == 1
    assert all(isinstance(r, services.ApprovalRefused) for r in results if not isinstance(r, tuple))
    assert Deployment.objects.filter(project=project).count() == 1
    assert len(fake_provider.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_approval_requests_with_one_key_create_one(postgres_only):
    workspace, project, users = _concurrent_world()
    url = f"/api/v1/workspaces/{workspace.slug}/projects/{project.pk}/approvals/"
    body = {"scope": "repo.push", "payload": {"branch": "x"}, "intent_summary": "push x"}
    results = _threads(
        6,
        lambda i: api_client(users["member"]).post(
            url, body, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
        ),
    )
    assert sorted(r.status_code for r in results) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in results}) == 1
    assert Approval.objects.filter(project=project).count() == 1


def test_repo_urls_with_credentials_are_refused(project, world):
    with pytest.raises(services.ValidationFailed):
        services.repo_connect(
            project=project, provider="git", owner="a", name="b", actor=world.member,
            clone_url="https://user:ghp_abcdefghijklmnopqrstuvwxyz0123456789@example.com/r.git",
        )  # fmt: skip
    assert not Repo.objects.exists()
