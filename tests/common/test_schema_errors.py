"""OpenAPI completeness: every operation documents its error responses with the one
`Error` schema, and every paginated list carries count, next and previous."""

import json

import pytest
from django.test import Client


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_every_operation_documents_errors_with_one_schema(schema):
    assert {"detail", "code"} <= set(schema["components"]["schemas"]["Error"]["properties"])
    missing = []
    for path, method, operation in _operations(schema):
        errors = {c: r for c, r in operation["responses"].items() if c.startswith(("4", "5"))}
        if not errors:
            missing.append((method, path))
        for code, response in errors.items():
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (method, path, code)
    assert not missing, missing


def test_the_known_statuses_are_declared(schema):
    tokens = schema["paths"]["/api/v1/auth/tokens/"]["post"]["responses"]
    assert {"400", "413", "429"} <= set(tokens)
    deploys = schema["paths"][
        "/api/v1/workspaces/{workspace_slug}/projects/{project_id}/deployments/"
    ]["post"]["responses"]
    assert {"400", "401", "403", "404", "413", "502"} <= set(deploys)


def test_every_paginated_list_has_count_next_previous(schema):
    pages = [n for n in schema["components"]["schemas"] if n.startswith("Paginated")]
    assert pages
    for name in pages:
        properties = schema["components"]["schemas"][name]["properties"]
        assert {"count", "next", "previous", "results"} <= set(properties), name


def test_every_list_page_with_results_has_count_next_previous(schema):
    """The sequence-paged lists (messages, events) carry count/next/previous as well."""
    components = schema["components"]["schemas"]
    for name in ("MessagePageOutput", "EventPageOutput"):
        assert {"count", "next", "previous", "results"} <= set(components[name]["properties"])
        assert {"count", "next", "previous"} <= set(components[name]["required"]), name


def test_backups_is_documented_as_the_object_it_returns(schema):
    ok = schema["paths"]["/api/v1/workspaces/{workspace_slug}/backups/"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BackupList"
    }


def test_artifact_download_documents_its_bytes_and_json_errors(schema):
    path = "/api/v1/workspaces/{workspace_slug}/projects/{project_id}/artifacts/{id}/download/"
    responses = schema["paths"][path]["get"]["responses"]
    # The artifact's own content type; one created from JSON `content` is that JSON.
    assert list(responses["200"]["content"]) == ["*/*", "application/json"]
    assert responses["200"]["content"]["application/json"]["schema"] == {}
    for code in ("401", "403", "404", "409"):
        assert list(responses[code]["content"]) == ["application/json"], code


@pytest.mark.django_db
def test_an_unmatched_api_path_is_a_json_404():
    response = Client().get("/api/v1/workspaces/st/threads/null,null/messages/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert Client().get("/api/v1/teams").status_code == 301  # APPEND_SLASH still redirects


@pytest.mark.django_db
def test_unsafe_requests_under_api_get_json_errors_never_the_csrf_page(client):
    """Found by schemathesis: a DELETE/POST to an unmatched API path (`null,null` for an
    id) hit Django's CSRF check in front of the catch-all 404 and got its HTML 403."""
    from tests.factories import UserFactory

    csrf_client = Client(enforce_csrf_checks=True)
    for method in ("post", "put", "patch", "delete"):
        response = getattr(csrf_client, method)("/api/v1/workspaces/st/comments/null,null/")
        assert response.status_code == 404, (method, response.content)
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
    # A newline in the path is still an API path, not Django's HTML 404.
    response = csrf_client.get("/api/v1/workspaces/st/projects/x/skills/a%0Ab/history/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    # A signed-in browser without its CSRF token: DRF's JSON 403.
    user = UserFactory()
    csrf_client.force_login(user)
    response = csrf_client.post("/api/v1/teams/", {"name": "T", "slug": "t"})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"


def test_the_csrf_failure_view_answers_json_under_api(rf):
    from common.not_found import csrf_failure

    response = csrf_failure(rf.post("/api/v1/anything/"), reason="CSRF cookie not set.")
    assert response.status_code == 403 and response["Content-Type"] == "application/json"
    assert json.loads(response.content)["code"] == "csrf_failed"
    page = csrf_failure(rf.post("/accounts/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_message_and_event_pages_are_documented_unwrapped(schema):
    """The views page by seq themselves: the 200 is the page object, not a page of pages."""
    for tail, name in (("messages/", "MessagePageOutput"), ("events/", "EventPageOutput")):
        path = f"/api/v1/workspaces/{{workspace_slug}}/threads/{{thread_id}}/{tail}"
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/{name}"}


def test_statuses_found_by_schemathesis_are_declared(schema):
    paths = schema["paths"]
    stats = "/api/v1/workspaces/{workspace_slug}/projects/{project_id}/stats/"
    assert "502" in paths[stats]["get"]["responses"]
    settings_ = "/api/v1/workspaces/{workspace_slug}/projects/{project_id}/settings/"
    assert "502" in paths[settings_]["patch"]["responses"]
    assert "401" in paths["/api/v1/hooks/git/{repo_id}/"]["post"]["responses"]
    assert "404" in paths["/api/v1/invitations/accept/"]["post"]["responses"]
    assert {"402", "409"} <= set(paths["/api/v1/workspaces/"]["post"]["responses"])
    assert "409" in paths["/api/v1/teams/"]["post"]["responses"]
    search = "/api/v1/workspaces/{workspace_slug}/projects/{project_id}/search/"
    query = {p["name"]: p for p in paths[search]["get"]["parameters"]}
    assert "filter" not in query and query["query"]["schema"]["maxLength"] == 300
