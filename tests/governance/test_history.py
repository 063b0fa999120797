"""History: the acting user and a change reason on every record, and the workspace trail API."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.request import Request
from simple_history.middleware import HistoryRequestMiddleware

from accounts.authentication import BearerTokenAuthentication
from accounts.services import token_create
from governance.history import history_context
from tests.factories import ProjectFactory, UserFactory, WorkspaceFactory
from tests.tenancy import TenancyContract, api_client
from workspaces import services


def history_url(world, query=""):
    return f"/api/v1/workspaces/{world.workspace.slug}/history/{query}"


@pytest.mark.django_db
def test_token_api_request_records_the_user_and_a_reason(world):
    _, raw = token_create(user=world.member)
    project = services.project_create(
        workspace=world.workspace, name="A", slug="a", actor=world.owner
    )
    client = api_client()
    response = client.patch(
        f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/",
        {"name": "Renamed"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 200, response.content
    record = project.history.order_by("-history_date").first()
    assert record.history_type == "~"
    assert record.history_user == world.member
    assert record.history_change_reason == "project updated: name"


@pytest.mark.django_db
def test_middleware_records_token_user_even_when_a_service_passes_no_actor(world):
    """DRF authenticates after the middleware, but sets the user on the Django request."""
    _, raw = token_create(user=world.member)
    project = ProjectFactory(workspace=world.workspace)

    def view(django_request):
        drf_request = Request(django_request, authenticators=[BearerTokenAuthentication()])
        assert drf_request.user == world.member
        project.name = "changed without an explicit actor"
        project.save()
        return HttpResponse("ok")

    request = RequestFactory().patch("/some/path/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    request.user = AnonymousUser()
    HistoryRequestMiddleware(view)(request)
    record = project.history.order_by("-history_date").first()
    assert record.history_user == world.member
    assert record.history_change_reason == "PATCH /some/path/"


@pytest.mark.django_db
def test_tasks_and_commands_record_actor_and_reason_through_history_context():
    actor = UserFactory()
    with history_context(actor=actor, reason="nightly job: rename"):
        project = ProjectFactory()
    record = project.history.get()
    assert record.history_user == actor
    assert record.history_change_reason == "nightly job: rename"


@pytest.mark.django_db
def test_no_history_record_is_without_a_reason():
    project = ProjectFactory()
    assert project.history.get().history_change_reason == "system"


class TestHistoryEndpointTenancy(TenancyContract):
    routes = ("workspaces-api:workspace-history",)
    list_queries = 6

    def list_url(self, world):
        return history_url(world)

    def make_rows(self, world, n):
        for _ in range(n):
            ProjectFactory(workspace=world.workspace)


@pytest.mark.django_db
def test_history_trail_shows_who_what_when_and_field_diffs(world):
    project = services.project_create(
        workspace=world.workspace, name="Alpha", slug="alpha", actor=world.member
    )
    services.project_update(project=project, actor=world.admin, name="Beta", description="d")
    WorkspaceFactory()  # another workspace's history never shows
    other_project = ProjectFactory()

    response = api_client(world.viewer).get(history_url(world))
    assert response.status_code == 200
    body = response.json()
    results = body["results"]
    assert body["count"] == 3  # workspace created, project created, project changed
    assert {r["object_id"] for r in results} == {str(world.workspace.pk), str(project.pk)}
    assert str(other_project.pk) not in {r["object_id"] for r in results}
    newest = results[0]
    assert newest["model"] == "workspaces.Project"
    assert newest["history_type"] == "~"
    assert newest["user"] == {"id": str(world.admin.pk), "handle": world.admin.handle}
    assert newest["change_reason"].startswith("project updated")
    assert newest["changes"]["name"] == {"from": "Alpha", "to": "Beta"}
    assert newest["changes"]["description"] == {"from": "", "to": "d"}
    assert "slug" not in newest["changes"]
    created = results[1]
    assert created["history_type"] == "+"
    assert created["changes"]["name"] == {"from": None, "to": "Alpha"}
    dates = [r["history_date"] for r in results]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.django_db
def test_history_filters_by_model_and_object(world):
    first = ProjectFactory(workspace=world.workspace)
    ProjectFactory(workspace=world.workspace)
    client = api_client(world.member)

    by_model = client.get(history_url(world, "?model=workspaces.project")).json()
    assert by_model["count"] == 2
    assert {r["model"] for r in by_model["results"]} == {"workspaces.Project"}

    by_object = client.get(history_url(world, f"?object_id={first.pk}")).json()
    assert [r["object_id"] for r in by_object["results"]] == [str(first.pk)]

    workspace_only = client.get(history_url(world, "?model=workspaces.Workspace")).json()
    assert workspace_only["count"] == 1


@pytest.mark.django_db
def test_history_bad_filters_are_400_with_field_errors(world):
    response = api_client(world.member).get(history_url(world, "?model=nope&object_id=x"))
    assert response.status_code == 400
    assert set(response.json()) == {"model", "object_id"}


@pytest.mark.django_db
def test_history_paginates(world):
    for _ in range(4):
        ProjectFactory(workspace=world.workspace)
    client = api_client(world.member)
    page1 = client.get(history_url(world, "?page_size=2")).json()
    assert page1["count"] == 5 and len(page1["results"]) == 2 and page1["next"]
    page3 = client.get(history_url(world, "?page_size=2&page=3")).json()
    assert len(page3["results"]) == 1
    seen = [r["history_id"] for r in page1["results"]] + [
        r["history_id"] for r in client.get(page1["next"]).json()["results"]
    ]
    assert len(set(seen)) == 4


@pytest.mark.django_db
def test_deleted_objects_show_what_was_removed(world):

    project = ProjectFactory(workspace=world.workspace, name="Doomed")
    project._change_reason = "test: delete"
    project.delete()
    results = api_client(world.member).get(history_url(world, "?model=workspaces.Project")).json()
    deleted = results["results"][0]
    assert deleted["history_type"] == "-"
    assert deleted["change_reason"] == "test: delete"
    assert deleted["changes"]["name"] == {"from": "Doomed", "to": None}


@pytest.mark.django_db
def test_celery_task_history_names_the_task():
    from config.celery import app

    @app.task(name="tests.governance.make_project")
    def make_project():
        return str(ProjectFactory().pk)

    project_id = make_project.apply().get()
    from workspaces.models import Project

    record = Project.objects.get(pk=project_id).history.get()
    assert record.history_change_reason == "task tests.governance.make_project"


@pytest.mark.django_db
def test_management_commands_are_named_as_the_reason(monkeypatch):
    monkeypatch.setattr("sys.argv", ["manage.py", "seed_demo"])
    project = ProjectFactory()
    assert project.history.get().history_change_reason == "command seed_demo"
