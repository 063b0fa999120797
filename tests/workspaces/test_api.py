"""Workspace and project API, including the tenancy contract."""

import pytest

from tests.factories import ProjectFactory
from tests.tenancy import TenancyContract, api_client
from workspaces.models import Project


class TestProjectEndpoint(TenancyContract):
    routes = ("workspaces-api:projects", "workspaces-api:project")
    list_queries = 4

    def _project(self, world):
        if "project" not in world.context:
            world.context["project"] = ProjectFactory(workspace=world.workspace)
        return world.context["project"]

    def detail_url(self, world):
        return f"{self.list_url(world)}{self._project(world).pk}/"

    def update(self, world):
        return "patch", self.detail_url(world), {"name": "Renamed"}

    def delete(self, world):
        return self.detail_url(world)

    def list_url(self, world):
        return f"/api/v1/workspaces/{world.workspace.slug}/projects/"

    def write(self, world):
        return "post", self.list_url(world), {"name": "Site", "slug": "site"}

    def make_rows(self, world, n):
        for _ in range(n):
            ProjectFactory(workspace=world.workspace)


@pytest.mark.django_db
def test_project_create_validation_is_400_with_field_errors(world):
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/"
    response = api_client(world.member).post(url, {"name": "", "slug": "not a slug"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name", "slug"}
    assert Project.objects.count() == 0


@pytest.mark.django_db
def test_duplicate_project_slug_is_409_and_writes_nothing(world):
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/"
    client = api_client(world.member)
    assert client.post(url, {"name": "A", "slug": "a"}, format="json").status_code == 201
    response = client.post(url, {"name": "B", "slug": "a"}, format="json")
    assert response.status_code == 409
    assert "slug" in response.json()
    assert Project.objects.filter(workspace=world.workspace).count() == 1


@pytest.mark.django_db
def test_project_history_records_the_acting_user(world):
    url = f"/api/v1/workspaces/{world.workspace.slug}/projects/"
    api_client(world.member).post(url, {"name": "A", "slug": "a"}, format="json")
    project = Project.objects.get(slug="a")
    assert project.history.first().history_user == world.member


def test_a_subclass_cannot_override_get_queryset():
    from workspaces.viewsets import WorkspaceScopedViewSet

    with pytest.raises(TypeError, match="scoped_queryset"):

        class Leaky(WorkspaceScopedViewSet):
            def get_queryset(self):
                return Project.objects.all()
