"""Team billing and credit endpoints."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import services
from tests.factories import ProjectFactory, WorkspaceFactory
from tests.tenancy import api_client

pytestmark = pytest.mark.django_db


def test_billing_shows_plan_limits_usage_and_balance(world, entitle):
    team = world.workspace.team
    entitle(team, seats=10, workspaces=3, projects_per_workspace=5, monthly_ai_credits=500)
    ProjectFactory(workspace=world.workspace)
    ProjectFactory(workspace=world.workspace)
    WorkspaceFactory(team=team)
    services.credits_grant(team=team, amount=500, idempotency_key="g")
    services.credits_spend(team=team, amount=120, idempotency_key="s")
    response = api_client(world.viewer).get(f"/api/v1/teams/{team.pk}/billing/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["plan"]["code"].startswith("test-") and body["entitlement"]["source"] == "manual"
    assert body["limits"]["seats"] == 10 and body["limits"]["deploys_per_day"] is None
    assert body["usage"]["seats"] == {"limit": 10, "used": 4, "remaining": 6}
    assert body["usage"]["workspaces"] == {"limit": 3, "used": 2, "remaining": 1}
    assert body["usage"]["projects_per_workspace"]["used"] == 2
    assert body["usage"]["monthly_ai_credits"] == {"limit": 500, "used": 120, "remaining": 380}
    assert body["usage"]["deploys_per_day"] == {"limit": None, "used": 0, "remaining": None}
    assert body["credit_balance"] == 380


def test_billing_of_a_team_without_entitlement_shows_the_default_plan(world):
    response = api_client(world.member).get(f"/api/v1/teams/{world.workspace.team.pk}/billing/")
    assert response.json()["plan"]["code"] == "free" and response.json()["entitlement"] is None


@pytest.mark.parametrize("suffix", ["billing/", "credits/"])
def test_non_members_get_404_and_anonymous_401(world, suffix):
    url = f"/api/v1/teams/{world.workspace.team.pk}/{suffix}"
    assert api_client(world.outsider).get(url).status_code == 404
    assert api_client().get(url).status_code == 401
    assert (
        api_client(world.outsider)
        .get("/api/v1/teams/00000000-0000-0000-0000-000000000000/" + suffix)
        .status_code
        == 404
    )


def test_credits_are_paginated_newest_first_with_constant_queries(world):
    team = world.workspace.team
    services.credits_grant(team=team, amount=1000, idempotency_key="g")
    for i in range(3):
        services.credits_spend(team=team, amount=i + 1, idempotency_key=f"s{i}")
    client = api_client(world.member)
    url = f"/api/v1/teams/{team.pk}/credits/"
    with CaptureQueriesContext(connection) as few:
        body = client.get(url, {"page_size": 2}).json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"]
    assert [r["idempotency_key"] for r in body["results"]] == ["s2", "s1"]
    assert body["results"][0]["amount"] == -3 and body["results"][0]["kind"] == "usage"
    for i in range(3, 15):
        services.credits_spend(team=team, amount=1, idempotency_key=f"s{i}")
    with CaptureQueriesContext(connection) as many:
        client.get(url, {"page_size": 50})
    assert len(many) == len(few)
