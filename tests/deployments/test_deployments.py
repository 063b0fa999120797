"""Deployments: immutable records that only move forward through the state machine."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from deployments import services
from deployments.models import (
    DEPLOYMENT_TRANSITIONS,
    ApprovalScope,
    ApprovalStatus,
    Deployment,
    DeploymentStatus,
)
from tests.tenancy import api_client

from .helpers import approved, status_of

SHA = "0123456789abcdef0123456789abcdef01234567"


def _preview(project, world, **kwargs):
    deployment, _ = services.deployment_create(
        project=project, environment="preview", commit_sha=SHA, actor=world.member, **kwargs
    )
    return deployment


def _url(world, project, suffix=""):
    return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/deployments/{suffix}"


LEGAL = [(src, dst) for src, targets in DEPLOYMENT_TRANSITIONS.items() for dst in sorted(targets)]
ILLEGAL = [
    (src, dst)
    for src in DeploymentStatus.values
    for dst in DeploymentStatus.values
    if dst != src and dst not in DEPLOYMENT_TRANSITIONS[src]
]


def _at(project, world, status):
    deployment = _preview(project, world)
    path = {
        "queued": [],
        "building": ["building"],
        "ready": ["ready"],
        "error": ["error"],
        "cancelled": ["cancelled"],
    }[status]
    for step in path:
        deployment = services.deployment_transition(deployment=deployment, status=step)
    return deployment


@pytest.mark.parametrize(("src", "dst"), LEGAL)
def test_forward_transitions_are_allowed(project, world, src, dst):
    deployment = services.deployment_transition(
        deployment=_at(project, world, src), status=dst, actor=world.member
    )
    assert deployment.status == dst
    assert deployment.started_at is not None
    assert (deployment.ended_at is not None) == (not DEPLOYMENT_TRANSITIONS[dst])


@pytest.mark.parametrize(("src", "dst"), ILLEGAL)
def test_illegal_transitions_are_refused_with_a_clear_error(project, world, src, dst):
    deployment = _at(project, world, src)
    with pytest.raises(services.IllegalTransition) as caught:
        services.deployment_transition(deployment=deployment, status=dst)
    assert f"from {src} to {dst}" in caught.value.message
    assert Deployment.objects.get(pk=deployment.pk).status == src


def test_illegal_transition_over_the_api_is_409(project, world):
    deployment = _at(project, world, "ready")
    response = api_client(world.admin).post(
        _url(world, project, f"{deployment.pk}/transition/"), {"status": "building"}, format="json"
    )
    assert response.status_code == 409
    assert "cannot go from ready to building (ready is final)" in response.json()["status"][0]


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _pk(obj):
    return obj.pk.hex if connection.vendor == "sqlite" else obj.pk


def test_the_database_refuses_edits_other_than_forward_status(project, world):
    deployment = _preview(project, world)
    for sql in (
        "UPDATE deployments_deployment SET commit_sha = 'ffffffff' WHERE id = %s",
        "UPDATE deployments_deployment SET url = 'https://evil.example' WHERE id = %s",
        "DELETE FROM deployments_deployment WHERE id = %s",
    ):
        with pytest.raises(DatabaseError):
            _raw(sql, [_pk(deployment)])
    _raw("UPDATE deployments_deployment SET status = 'building' WHERE id = %s", [_pk(deployment)])
    _raw("UPDATE deployments_deployment SET status = 'ready' WHERE id = %s", [_pk(deployment)])
    with pytest.raises(DatabaseError):
        _raw("UPDATE deployments_deployment SET status = 'queued' WHERE id = %s", [_pk(deployment)])
    deployment.refresh_from_db()
    assert deployment.status == "ready" and deployment.commit_sha == SHA


def test_saving_a_changed_record_through_the_orm_is_refused(project, world):
    deployment = _preview(project, world)
    deployment.commit_sha = "f" * 40
    with pytest.raises(DatabaseError), transaction.atomic():
        deployment.save()


def test_a_production_row_without_approval_violates_a_constraint(project):
    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.objects.create(
            project=project, environment="production", provider="x", commit_sha=SHA
        )


def test_create_records_the_provider_answer(project, world, fake_provider):
    repo = services.repo_connect(
        project=project, provider="github", owner="acme", name="site", actor=world.member
    )
    response = api_client(world.member).post(
        _url(world, project),
        {"environment": "preview", "commit_sha": SHA, "repo": str(repo.pk)},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["provider"] == "fake"
    assert body["external_deployment_id"] == "dpl_1"
    assert body["url"].startswith("https://")
    call = fake_provider.calls[0][1]
    assert call["repo"].owner == "acme" and call["ref"] == "main" and call["commit_sha"] == SHA


def test_create_is_idempotent_per_key(project, world, fake_provider):
    client = api_client(world.member)
    body = {"environment": "preview", "commit_sha": SHA}
    first = client.post(_url(world, project), body, format="json", HTTP_IDEMPOTENCY_KEY="d-1")
    again = client.post(_url(world, project), body, format="json", HTTP_IDEMPOTENCY_KEY="d-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len(fake_provider.calls) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"environment": "preview", "commit_sha": "not-a-sha"}, "commit_sha"),
        ({"environment": "staging", "commit_sha": SHA}, "environment"),
        ({"environment": "preview"}, "commit_sha"),
        (
            {
                "environment": "preview",
                "commit_sha": SHA,
                "repo": "00000000-0000-4000-8000-000000000000",
            },
            "repo",
        ),  # fmt: skip
    ],
)
def test_bad_input_is_400_with_field_errors(project, world, body, field, fake_provider):
    response = api_client(world.member).post(_url(world, project), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert fake_provider.calls == [] and not Deployment.objects.exists()


def test_production_without_approval_is_403_over_the_api(project, world, fake_provider):
    response = api_client(world.member).post(
        _url(world, project), {"environment": "production", "commit_sha": SHA}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "approval_missing"
    assert fake_provider.calls == []


def test_refresh_moves_forward_with_the_provider(project, world, fake_provider):
    deployment = _preview(project, world)
    fake_provider.remote_status["dpl_1"] = "ready"
    response = api_client(world.member).post(_url(world, project, f"{deployment.pk}/refresh/"))
    assert response.status_code == 200 and response.json()["status"] == "ready"
    assert response.json()["ended_at"] is not None


def test_cancel_calls_the_provider_and_refuses_finished_deployments(project, world, fake_provider):
    deployment = _preview(project, world)
    client = api_client(world.member)
    response = client.post(_url(world, project, f"{deployment.pk}/cancel/"))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert fake_provider.calls[-1][0] == "cancel_deployment"
    assert client.post(_url(world, project, f"{deployment.pk}/cancel/")).status_code == 409


def test_a_deploy_over_the_plan_is_refused_before_the_approval_or_provider(
    project, world, fake_provider
):
    from billing import services as billing
    from billing.models import Plan

    plan = Plan(code="no-deploys", name="No deploys", deploys_per_day=0)
    billing.plan_save(plan=plan, actor=None)
    billing.entitlement_grant(team=world.workspace.team, plan=plan, actor=None, note="test")
    approval = approved(
        project, world, ApprovalScope.DEPLOY_PRODUCTION,
        {"environment": "production", "commit_sha": SHA},
    )  # fmt: skip
    response = api_client(world.member).post(
        _url(world, project),
        {"environment": "production", "commit_sha": SHA, "approval": str(approval.pk)},
        format="json",
    )
    assert response.status_code == 402
    assert response.json()["limit"] == "deploys_per_day"
    assert fake_provider.calls == [] and not Deployment.objects.exists()
    assert status_of(approval) == ApprovalStatus.APPROVED  # not used up by the refusal


def test_deployment_metadata_is_redacted(project, world):
    deployment = _preview(project, world, metadata={"vercel_token": "abc", "branch": "main"})
    assert deployment.metadata == {"vercel_token": "[redacted]", "branch": "main"}


def test_the_refresh_beat_job_polls_unfinished_deployments(project, world, fake_provider):
    from deployments.tasks import refresh_deployments

    first = _preview(project, world)
    done = _at(project, world, "ready")
    fake_provider.remote_status[first.external_deployment_id] = "building"
    assert refresh_deployments() == 1
    assert Deployment.objects.get(pk=first.pk).status == "building"
    assert Deployment.objects.get(pk=done.pk).status == "ready"
