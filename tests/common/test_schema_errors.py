"""OpenAPI completeness: every operation documents its error responses with the one
`Error` schema, and every paginated list carries count, next and previous."""

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
    assert list(responses["200"]["content"]) == ["*/*"]  # the artifact's own content type
    for code in ("401", "403", "404", "409"):
        assert list(responses[code]["content"]) == ["application/json"], code


@pytest.mark.django_db
def test_an_unmatched_api_path_is_a_json_404():
    response = Client().get("/api/v1/workspaces/st/threads/null,null/messages/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert Client().get("/api/v1/teams").status_code == 301  # APPEND_SLASH still redirects
