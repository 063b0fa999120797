"""Plan limits are enforced at every creation path: 402 naming the limit, nothing written."""

import pytest

from accounts.models import Membership
from billing import selectors, services
from billing.models import DEFAULT_PLANS, CreditEntry, Plan
from deployments.adapters import provider
from deployments.models import Artifact, Deployment
from deployments.services import artifact_create
from tests.deployments.fakes import FakeProvider
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, WorkspaceFactory
from tests.tenancy import api_client
from workspaces.models import Project, Workspace

pytestmark = pytest.mark.django_db

SHA = "0123456789abcdef0123456789abcdef01234567"


def _refused(response, limit):
    assert response.status_code == 402, response.content
    body = response.json()
    assert body["limit"] == limit and limit in body["detail"], body
    return body


def test_a_team_without_entitlement_gets_the_default_plan(world):
    terms = selectors.team_terms(team=world.workspace.team)
    assert terms.entitlement is None
    assert terms.plan.code == "free" and terms.plan.pk is not None  # seeded by the migration
    assert terms.limits["workspaces"] == DEFAULT_PLANS["free"]["workspaces"]


def test_the_builtin_default_applies_when_no_plan_rows_exist(world):
    Plan.objects.all().delete()
    terms = selectors.team_terms(team=world.workspace.team)
    assert terms.plan.code == "free" and terms.plan._state.adding  # the built-in, unsaved
    assert terms.limits["seats"] == DEFAULT_PLANS["free"]["seats"]


def test_workspace_limit(world, entitle):
    team = world.workspace.team
    entitle(team, workspaces=1)
    response = api_client(world.owner).post(
        "/api/v1/workspaces/", {"team": str(team.pk), "name": "Two", "slug": "two"}, format="json"
    )
    body = _refused(response, "workspaces")
    assert body["allowed"] == 1 and body["used"] == 1
    assert not Workspace.objects.filter(slug="two").exists()


def test_project_limit_is_per_workspace(world, entitle):
    team = world.workspace.team
    entitle(team, projects_per_workspace=1)
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/"
    client = api_client(world.member)
    assert client.post(url, {"name": "A", "slug": "a"}, format="json").status_code == 201
    _refused(client.post(url, {"name": "B", "slug": "b"}, format="json"), "projects_per_workspace")
    assert list(Project.objects.values_list("slug", flat=True)) == ["a"]
    other = WorkspaceFactory(team=team)  # another workspace of the same team has its own room
    ProjectFactory(workspace=other)
    assert Project.objects.filter(workspace=other).count() == 1


def test_seat_limit(world, entitle):
    team = world.workspace.team  # four members already
    entitle(team, seats=4)
    newcomer = UserFactory()
    # A direct add needs a shared team already (accounts: otherwise an invitation).
    MembershipFactory(team=MembershipFactory(user=world.owner).team, user=newcomer)
    response = api_client(world.owner).post(
        f"/api/v1/teams/{team.pk}/members/", {"user": newcomer.email, "role": "member"}
    )
    _refused(response, "seats")
    assert not Membership.objects.filter(team=team, user=newcomer).exists()


def test_an_override_lifts_one_limit(world, entitle):
    team = world.workspace.team
    entitlement = entitle(team, seats=4)
    services.entitlement_update(entitlement=entitlement, actor=world.owner, overrides={"seats": 5})
    newcomer = UserFactory()
    # A direct add needs a shared team already (accounts: otherwise an invitation).
    MembershipFactory(team=MembershipFactory(user=world.owner).team, user=newcomer)
    response = api_client(world.owner).post(
        f"/api/v1/teams/{team.pk}/members/", {"user": newcomer.email, "role": "member"}
    )
    assert response.status_code == 201, response.content


def test_deploys_per_day(world, entitle):
    provider.set_adapter(FakeProvider())
    try:
        project = ProjectFactory(workspace=world.workspace)
        entitle(world.workspace.team, deploys_per_day=1)
        url = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/deployments/"
        client = api_client(world.member)
        body = {"environment": "preview", "commit_sha": SHA}
        assert client.post(url, body, format="json").status_code == 201
        _refused(client.post(url, body, format="json"), "deploys_per_day")
        assert Deployment.objects.count() == 1
    finally:
        provider.set_adapter(None)


def test_storage_bytes(world, entitle, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    project = ProjectFactory(workspace=world.workspace)
    entitle(world.workspace.team, storage_bytes=10)
    artifact_create(project=project, kind="build", logical_key="a", content=b"x" * 8)
    with pytest.raises(services.LimitReached, match="storage_bytes"):
        artifact_create(project=project, kind="build", logical_key="b", content=b"x" * 3)
    assert Artifact.objects.count() == 1
    blobs = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert len(blobs) == 1  # the refused blob was removed again


def test_credit_spend_over_balance(world, entitle):
    team = world.workspace.team
    entitle(team, monthly_ai_credits=100)
    services.credits_grant(team=team, amount=10, idempotency_key="g1")
    with pytest.raises(services.LimitReached, match="monthly_ai_credits") as refused:
        services.credits_spend(team=team, amount=11, idempotency_key="s1")
    assert refused.value.status_code == 402
    assert CreditEntry.objects.filter(team=team).count() == 1
    assert selectors.credit_balance(team=team) == 10


def test_ai_call_refused_writes_no_usage(world, entitle):
    from billing.models import AiUsage

    team = world.workspace.team
    entitle(team, monthly_ai_credits=100)
    with pytest.raises(services.LimitReached):
        services.record_ai_call(
            team=team,
            workspace=world.workspace,
            model="gpt-x",
            input_tokens=10,
            output_tokens=5,
            cost_cents=3,
            duration_ms=40,
            idempotency_key="call-1",
        )
    assert not AiUsage.objects.exists() and not CreditEntry.objects.exists()


def test_unlimited_limits_are_not_counted(world, entitle):
    team = world.workspace.team
    entitle(team)  # every limit null
    for _ in range(DEFAULT_PLANS["free"]["workspaces"] + 1):
        WorkspaceFactory(team=team)
    assert services.entitlement_enforce(limit="workspaces", team=team) is None  # not refused
