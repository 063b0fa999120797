"""Test helpers shared by every app's tests, including the tenancy contract.

`TenancyContract` is a mixin for pytest test classes of workspace-scoped
endpoints. A subclass says how to build its URL and a valid write, and gets
the tests every tenant endpoint must pass: anonymous 401, non-member 404,
viewer 403 on writes, member read 200, a query count pinned as a number
(`list_queries`) that does not grow with the number of rows listed, and the
same refusals on its detail, update, delete and action routes.

`routes` names the URL patterns a class proves; `tests/test_tenancy_coverage.py`
walks the URL resolver and fails for any `/api/v1/workspaces/{slug}/…` route no
contract class names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory


@dataclass
class TenantWorld:
    workspace: object
    owner: object
    admin: object
    member: object
    viewer: object
    outsider: object
    context: dict = field(default_factory=dict)


def api_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


def make_tenant_world() -> TenantWorld:
    workspace = WorkspaceFactory()
    users = {}
    for role in (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER):
        users[role] = UserFactory()
        MembershipFactory(team=workspace.team, user=users[role], role=role)
    outsider = UserFactory()
    other = WorkspaceFactory()
    MembershipFactory(team=other.team, user=outsider, role=Role.OWNER)
    return TenantWorld(
        workspace=workspace,
        owner=users[Role.OWNER],
        admin=users[Role.ADMIN],
        member=users[Role.MEMBER],
        viewer=users[Role.VIEWER],
        outsider=outsider,
    )


@pytest.mark.django_db
class TenancyContract:
    """Mix into a test class; define the hooks below.

    - `setup_world(world)`: optional, fill `world.context` (e.g. a project).
    - `list_url(world)`: the collection URL.
    - `write(world) -> (method, url, payload)`: a valid write a member may do,
      or None when the endpoint is read-only (then a POST must be refused).
    - `make_rows(world, n)`: create n rows the list shows (for the query count).
    - `writer_role`: the lowest role allowed to write ("member" by default).
    - `viewer_may_write`: True for writes a viewer may do (presence, KPI events).
    - `routes`: the URL names (`"app-api:name"`) this class proves.
    - `list_queries`: the exact number of queries the member's `GET list_url` runs.
    - `detail_url(world)`: a row's detail URL the viewer may read, or None.
    - `update(world) -> (method, url, payload)` / `delete(world) -> url`: writes on a row
      (the writer role may do them; a viewer is refused 403, a stranger 404).
    - `probes(world) -> [(method, url, payload)]`: the other routes of the resource
      (actions, downloads); a stranger gets 404 and an anonymous caller 401 on each.
    """

    writer_role = "member"
    viewer_may_write = False
    routes: tuple[str, ...] = ()
    list_queries: int | None = None

    def detail_url(self, world: TenantWorld) -> str | None:
        return None

    def update(self, world: TenantWorld):
        return None

    def delete(self, world: TenantWorld) -> str | None:
        return None

    def probes(self, world: TenantWorld) -> list:
        return []

    def setup_world(self, world: TenantWorld) -> None:
        pass

    def list_url(self, world: TenantWorld) -> str:
        raise NotImplementedError

    def write(self, world: TenantWorld):
        return None

    def make_rows(self, world: TenantWorld, n: int) -> None:
        raise NotImplementedError

    @pytest.fixture
    def world(self, db) -> TenantWorld:
        world = make_tenant_world()
        self.setup_world(world)
        return world

    def _writer(self, world):
        return getattr(world, self.writer_role)

    def test_anonymous_gets_401(self, world):
        response = api_client().get(self.list_url(world))
        assert response.status_code == 401, response.content

    def test_non_member_gets_404(self, world):
        response = api_client(world.outsider).get(self.list_url(world))
        assert response.status_code == 404, response.content
        write = self.write(world)
        if write:
            method, url, payload = write
            response = getattr(api_client(world.outsider), method)(url, payload, format="json")
            assert response.status_code == 404, response.content

    def test_viewer_can_read(self, world):
        response = api_client(world.viewer).get(self.list_url(world))
        assert response.status_code == 200, response.content

    def _write_or_probe(self, world):
        """The endpoint's write, or for a read-only endpoint a POST to its list URL."""
        return self.write(world) or ("post", self.list_url(world), {})

    def test_viewer_write_is_refused_unless_allowed(self, world):
        method, url, payload = self._write_or_probe(world)
        response = getattr(api_client(world.viewer), method)(url, payload, format="json")
        if self.viewer_may_write and self.write(world) is not None:
            assert response.status_code in (200, 201, 202, 204), response.content
        else:
            assert response.status_code == 403, response.content

    def test_writer_can_write(self, world):
        write = self.write(world)
        client = api_client(self._writer(world))
        if write is None:  # read-only: a write is refused, not silently accepted
            response = client.post(self.list_url(world), {}, format="json")
            assert response.status_code == 405, response.content
            return
        method, url, payload = write
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code in (200, 201, 202, 204), response.content

    def _row_routes(self, world) -> list:
        routes = []
        if (url := self.detail_url(world)) is not None:
            routes.append(("get", url, None))
        if (update := self.update(world)) is not None:
            routes.append(update)
        if (url := self.delete(world)) is not None:
            routes.append(("delete", url, None))
        return routes + list(self.probes(world))

    def test_row_routes_hide_from_strangers_and_anonymous(self, world):
        for method, url, payload in self._row_routes(world):
            response = getattr(api_client(world.outsider), method)(url, payload, format="json")
            assert response.status_code == 404, (method, url, response.content)
            response = getattr(api_client(), method)(url, payload, format="json")
            assert response.status_code == 401, (method, url, response.content)

    def test_viewer_reads_detail_but_cannot_change_it(self, world):
        if (url := self.detail_url(world)) is not None:
            response = api_client(world.viewer).get(url)
            assert response.status_code == 200, response.content
        if self.viewer_may_write:
            return
        changes = [self.update(world)]
        if (url := self.delete(world)) is not None:
            changes.append(("delete", url, None))
        for change in filter(None, changes):
            method, url, payload = change
            response = getattr(api_client(world.viewer), method)(url, payload, format="json")
            assert response.status_code == 403, (method, url, response.content)

    def test_writer_can_update(self, world):
        if (update := self.update(world)) is None:
            return
        method, url, payload = update
        response = getattr(api_client(self._writer(world)), method)(url, payload, format="json")
        assert response.status_code in (200, 201, 202, 204), response.content

    def test_writer_can_delete(self, world):
        if (url := self.delete(world)) is None:
            return
        response = api_client(self._writer(world)).delete(url)
        assert response.status_code in (200, 202, 204), response.content

    def test_list_query_count_is_pinned(self, world):
        assert self.list_queries is not None, f"{type(self).__name__} must pin list_queries"
        client = api_client(world.member)
        self.make_rows(world, 3)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(self.list_url(world)).status_code == 200
        assert len(queries) == self.list_queries, (
            f"{len(queries)} queries, pinned {self.list_queries}",
            [q["sql"] for q in queries.captured_queries],
        )

    def test_query_count_does_not_grow_with_rows(self, world):
        client = api_client(world.member)
        self.make_rows(world, 2)
        with CaptureQueriesContext(connection) as few:
            assert client.get(self.list_url(world)).status_code == 200
        self.make_rows(world, 12)
        with CaptureQueriesContext(connection) as many:
            assert client.get(self.list_url(world)).status_code == 200
        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
