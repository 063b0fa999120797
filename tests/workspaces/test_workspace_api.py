"""The workspace list and detail endpoints."""

import pytest

from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkspaceFactory
from tests.tenancy import TenancyContract, api_client
from workspaces.models import Workspace


class TestWorkspaceDetail(TenancyContract):
    writer_role = "admin"
    routes = ("workspaces-api:workspace",)
    list_queries = 2

    def list_url(self, world):
        return f"/api/v1/workspaces/{world.workspace.slug}/"

    def write(self, world):
        return "patch", self.list_url(world), {"name": "Renamed"}

    def make_rows(self, world, n):
        pass  # a detail view: the count must not depend on anything else

    def test_member_below_admin_cannot_edit(self, world):
        response = api_client(world.member).patch(
            self.list_url(world), {"name": "x"}, format="json"
        )
        assert response.status_code == 403


@pytest.mark.django_db
def test_workspace_list_and_create():
    team = TeamFactory()
    owner = MembershipFactory(team=team, role="owner").user
    WorkspaceFactory()  # not visible
    client = api_client(owner)
    response = client.post(
        "/api/v1/workspaces/", {"team": str(team.pk), "name": "Docs", "slug": "docs"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert [w["slug"] for w in client.get("/api/v1/workspaces/").json()["results"]] == ["docs"]


@pytest.mark.django_db
def test_workspace_create_for_a_foreign_team_is_400():
    response = api_client(UserFactory()).post(
        "/api/v1/workspaces/",
        {"team": str(TeamFactory().pk), "name": "Docs", "slug": "docs"},
        format="json",
    )
    assert response.status_code == 400
    assert "team" in response.json()
    assert not Workspace.objects.filter(slug="docs").exists()
