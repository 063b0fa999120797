"""Capabilities `deploy` and `use_ai` are checked in the services: a user whose capability
an operator revoked is refused with 403 and a clear message, and nothing is written;
ordinary members keep both by default (seed 002 §1 permissions; docs/safety.md)."""

import pytest

from accounts import selectors
from accounts import services as accounts
from billing.models import CreditEntry
from billing.services.credits import credits_grant
from common.exceptions import Forbidden
from deployments import services
from deployments.models import AgentRun, Deployment
from deployments.services import agent_runs
from tests.tenancy import api_client

from . import test_agent_runs

pytestmark = pytest.mark.django_db

manuscript, llm = test_agent_runs.manuscript, test_agent_runs.llm  # their fixtures

SHA = "0123456789abcdef0123456789abcdef01234567"


def _revoke(user, capability):
    assert accounts.capability_revoke(user=user, capability=capability, actor=None, reason="t")
    assert not selectors.capability_has(user=user, capability=capability)


def _deploy_url(world, project):
    return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/deployments/"


def test_a_member_deploys_by_default_and_not_once_deploy_is_revoked(project, world, fake_provider):
    client, body = api_client(world.member), {"environment": "preview", "commit_sha": SHA}
    assert client.post(_deploy_url(world, project), body, format="json").status_code == 201
    _revoke(world.member, "deploy")
    response = client.post(_deploy_url(world, project), body, format="json")
    assert response.status_code == 403
    assert "deploy capability has been revoked" in response.json()["detail"]
    assert Deployment.objects.count() == 1 and len(fake_provider.calls) == 1  # nothing more
    with pytest.raises(Forbidden):
        services.deployment_create(
            project=project, environment="preview", commit_sha=SHA, actor=world.member
        )
    # others are unaffected; granting it again lifts the denial
    assert client.post(_deploy_url(world, project), body, format="json").status_code == 403
    assert (
        api_client(world.admin).post(_deploy_url(world, project), body, format="json").status_code
        == 201
    )
    accounts.capability_grant(user=world.member, capability="deploy", actor=None)
    assert client.post(_deploy_url(world, project), body, format="json").status_code == 201


def _runs_url(world, project):
    return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/agent-runs/"


def test_use_ai_revoked_refuses_queueing_an_llm_agent(manuscript, project, world, llm):
    client = api_client(world.member)
    _revoke(world.member, "use_ai")
    response = client.post(_runs_url(world, project), {"agent": "continuity"}, format="json")
    assert response.status_code == 403
    assert "use_ai capability has been revoked" in response.json()["detail"]
    assert AgentRun.objects.count() == 0
    # local agents spend no AI credits and stay allowed
    local = client.post(_runs_url(world, project), {"agent": "word_count"}, format="json")
    assert local.status_code == 201


def test_use_ai_revoked_after_queueing_fails_the_run_without_spending(
    manuscript,
    project,
    world,
    llm,
):
    team = project.workspace.team
    credits_grant(team=team, amount=5, idempotency_key="grant-5")
    run, _ = agent_runs.agent_run_enqueue(project=project, agent="continuity", actor=world.member)
    _revoke(world.member, "use_ai")
    agent_runs.agent_runs_process()
    run.refresh_from_db()
    assert run.status == "failed" and "use_ai capability has been revoked" in run.error
    assert run.attempts == 1  # no retry
    assert llm.calls == [] and not CreditEntry.objects.filter(team=team, kind="usage").exists()


def test_a_member_queues_an_llm_agent_by_default(manuscript, project, world, llm):
    response = api_client(world.member).post(
        _runs_url(world, project), {"agent": "continuity"}, format="json"
    )
    assert response.status_code == 201, response.content
