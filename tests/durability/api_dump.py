"""A full API dump of one workspace: every list endpoint under /api/v1/workspaces/{slug}/.

The endpoints are discovered from the URL resolver, so apps merged later are covered:
every route whose only parameters are the workspace slug (and, for nested lists, a
project id) is fetched with GET, following pagination.
"""

import re

from django.urls import URLPattern, URLResolver, get_resolver

from tests.tenancy import api_client

# Lists that legitimately change when a backup is taken or restored; and the views of a
# project's repository (stats, settings), which answer 404 when none is connected.
SKIP = ("backups/", "restore-point/", "audit", "/stats/", "/settings/")


def _routes(patterns=None, prefix=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route


def list_routes() -> list[str]:
    found = []
    for route in _routes():
        route = route.lstrip("^").rstrip("$")
        if not route.startswith("api/v1/workspaces/<slug:workspace_slug>/"):
            continue
        params = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if set(params) - {"workspace_slug", "project_id"}:
            continue
        if any(s in route for s in SKIP):
            continue
        found.append(route)
    return sorted(set(found))


def _get_all(client, url):
    pages = []
    while url:
        response = client.get(url)
        if response.status_code == 405:
            return None
        assert response.status_code == 200, (url, response.status_code)
        if not response.get("Content-Type", "").startswith("application/json"):
            return None  # downloads (exports) are built on the fly, not a stored list
        body = response.json()
        pages.append(body)
        url = body.get("next") if isinstance(body, dict) else None
    return pages


def dump(workspace, user) -> dict:
    from workspaces.models import Project

    client = api_client(user)
    out = {}
    projects = sorted(
        str(p) for p in Project.objects.filter(workspace=workspace).values_list("pk", flat=True)
    )
    for route in list_routes():
        targets = projects if "<uuid:project_id>" in route or "<project_id>" in route else [None]
        for project_id in targets:
            url = "/" + route.replace("<slug:workspace_slug>", workspace.slug)
            if project_id is not None:
                url = re.sub(r"<(?:\w+:)?project_id>", project_id, url)
            pages = _get_all(client, url)
            if pages is not None:
                out[url] = pages
    return out
