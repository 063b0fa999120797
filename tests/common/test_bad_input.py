"""Bad input is a 4xx everywhere: every write route of the API (found by walking the URL
resolver) is sent a lone surrogate, a NUL, JSON nested 10,000 deep and an oversized body;
each answer is a 4xx with a JSON body, and no row anywhere was written."""

import json
import re
import uuid

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from collaboration import services as chat
from deployments import services as pipeline
from tests.factories import ProjectFactory
from tests.tenancy import api_client

WRITE_METHODS = ("post", "put", "patch", "delete")
FIELDS = (
    "name", "slug", "title", "body", "kind", "content", "payload", "metadata", "url",
    "events", "user", "role", "email", "username", "password", "command", "job_type",
    "environment", "commit_sha", "scope", "note", "token", "query", "visibility", "status",
    "client_id", "emoji", "team", "project", "intent_summary", "logical_key", "config",
)  # fmt: skip


def _body(value: str) -> str:
    """A body naming every field the API takes, each (and a nested one) set to `value`."""
    data = {field: value for field in FIELDS}
    data["metadata"] = {"a": value, value: "b"}
    data["payload"] = {"nested": [value]}
    return json.dumps(data)  # json escapes \ud800 and \x00, exactly as an attacker sends


SURROGATE = _body("\ud800")
NUL = _body("x\x00y")
DEEP = "[" * 10_000 + "]" * 10_000
DEEP_FIELD = '{"kind": "b", "metadata": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}"
BAD_BODIES = {"surrogate": SURROGATE, "nul": NUL, "deep": DEEP, "deep-field": DEEP_FIELD}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _write_methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset route: {"post": "create", ...}
        return [m for m in actions if m in WRITE_METHODS]
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return []
    return [m for m in WRITE_METHODS if hasattr(view_class, m)]


def write_routes() -> list[tuple[str, str]]:
    routes = []
    for path, callback in _walk(get_resolver().url_patterns):
        if path.startswith("api/v1/"):
            routes += [(method, path) for method in _write_methods(callback)]
    return routes


def _fill(path: str, values: dict) -> str:
    def one(match):
        name = match.group(2)
        return str(values.get(name, uuid.uuid4()))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", one, path)


def _row_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


@pytest.fixture
def targets(world):
    project = ProjectFactory(workspace=world.workspace)
    thread = chat.thread_create(workspace=world.workspace, title="t", actor=world.owner)
    message, _ = chat.message_post(thread=thread, body="hello", actor=world.owner)
    preview = pipeline.preview_create(project=project, slug="bad-input", actor=world.owner)
    values = {
        "workspace_slug": world.workspace.slug,
        "project_id": project.pk,
        "team_id": world.workspace.team_id,
        "thread_id": thread.pk,
        "message_id": message.pk,
        "slug": preview.slug,
    }
    routes = []
    for method, path in write_routes():
        filled = dict(values)
        if "/projects/<uuid:pk>/" in path:
            filled["pk"] = project.pk
        elif path.startswith("api/v1/teams/<uuid:pk>/"):
            filled["pk"] = world.workspace.team_id
        routes.append((method, _fill(path, filled)))
    return routes


def test_the_walk_finds_the_write_routes(targets):
    paths = {path for _, path in targets}
    assert len(targets) > 40
    assert "/api/v1/auth/tokens/" in paths
    assert any(p.endswith("/runs/") for p in paths)


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_every_write_endpoint_answers_4xx_and_writes_nothing(world, targets, kind):
    body = BAD_BODIES[kind]
    before = _row_counts()
    failures = []
    for user in (world.owner, None):
        client = api_client(user)
        for method, url in targets:
            response = client.generic(method.upper(), url, body, content_type="application/json")
            ok = 400 <= response.status_code < 500
            if ok and response.content:
                ok = response["Content-Type"].startswith("application/json")
            if not ok:
                failures.append((method, url, response.status_code, response.content[:200]))
    assert not failures, failures
    assert _row_counts() == before


def test_an_oversized_body_is_a_json_413_everywhere(world, targets, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"kind": "b", "metadata": {"pad": "x" * 20_000}})
    before = _row_counts()
    client = api_client(world.owner)
    for method, url in targets:
        response = client.generic(method.upper(), url, body, content_type="application/json")
        assert response.status_code == 413, (method, url, response.status_code)
        assert response.json()["code"] == "payload_too_large"
    assert _row_counts() == before


def test_the_surrogate_run_of_the_report_is_refused_and_lists_keep_working(world):
    project = ProjectFactory(workspace=world.workspace)
    base = f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/"
    client = api_client(world.member)
    raw = '{"kind": "b", "metadata": {"a": "\\ud800"}}'
    response = client.generic("POST", base + "runs/", raw, content_type="application/json")
    assert response.status_code == 400
    assert "surrogates" in response.json()["metadata"][0]  # a field error, like the others
    for listing in ("runs/", "repos/", "artifacts/"):
        assert client.get(base + listing).status_code == 200
    assert client.get(f"/api/v1/workspaces/{world.workspace.slug}/history/").status_code == 200


def test_anonymous_deep_json_to_the_token_endpoint_is_a_json_400(db):
    response = Client().post("/api/v1/auth/tokens/", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


def test_valid_json_still_parses(world):
    response = api_client(world.owner).post(
        f"/api/v1/workspaces/{world.workspace.slug}/threads/",
        {"title": "Ünïcode 👋 fine"},
        format="json",
    )
    assert response.status_code == 201, response.content
