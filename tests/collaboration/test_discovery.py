"""Discovery (seed 002 §6): ranked, explained, cached 5 minutes, never stored; blocks and
minors excluded."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import graph, identity
from collaboration import discovery, services
from governance import registry
from tests.factories import ProjectFactory
from tests.tenancy import api_client

from .helpers import add_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _handles(body):
    return [r["user"]["handle"] for r in body["results"]]


def test_suggestions_are_ranked_and_explained(world):
    ProjectFactory(workspace=world.workspace)
    ProjectFactory(workspace=world.workspace)
    fan = add_member(world)
    graph.edge_create(actor=fan, to=world.member, type="follow")
    services.presence_heartbeat(
        workspace=world.workspace, actor=fan, status="online", activity="idle"
    )
    body = api_client(world.member).get("/api/v1/me/discovery/").json()
    assert set(body) == {"results", "generated_at"}
    assert _handles(body)[0] == fan.handle
    top = body["results"][0]
    assert top["explanation"] == "shares 2 projects · follows you · online now"
    assert 0 < top["score"] <= 1
    assert world.member.handle not in _handles(body)
    assert world.outsider.handle not in _handles(body)  # shares nothing


def test_mutual_friends_are_explained_and_friends_are_not_suggested(world):
    friend, fof = add_member(world), add_member(world)
    for a, b in ((world.member, friend), (friend, fof)):
        graph.edge_create(actor=a, to=b, type="friend")
        graph.edge_create(actor=b, to=a, type="friend")
    results = discovery.discovery_compute(world.member)["results"]
    by_handle = {r["user"]["handle"]: r for r in results}
    assert friend.handle not in by_handle
    assert "1 mutual friend" in by_handle[fof.handle]["explanation"]


def test_blocks_and_minors_are_excluded_at_once_even_from_a_cached_result(world):
    other, minor = add_member(world), add_member(world)
    client = api_client(world.member)
    first = client.get("/api/v1/me/discovery/").json()
    assert {other.handle, minor.handle} <= set(_handles(first))
    graph.edge_create(actor=other, to=world.member, type="block")
    identity.user_set_age_layer(user=minor, age_layer="minor", actor=None, reason="declared")
    cached = client.get("/api/v1/me/discovery/").json()
    assert cached["generated_at"] == first["generated_at"]  # served from the 5-minute cache
    assert other.handle not in _handles(cached) and minor.handle not in _handles(cached)
    # The blocker does not find the blocked user either, and a fresh result agrees.
    assert world.member.handle not in _handles(discovery.discovery_compute(other))
    assert minor.handle not in _handles(discovery.discovery_compute(world.member))


def test_a_minor_is_shown_no_adults(world):
    minor = identity.user_set_age_layer(
        user=add_member(world), age_layer="minor", actor=None, reason="declared"
    )
    teen = identity.user_set_age_layer(
        user=add_member(world), age_layer="transitional", actor=None, reason="declared"
    )
    assert _handles(discovery.discovery_compute(minor)) == [teen.handle]


def test_discovery_is_ephemeral_in_the_registry_and_writes_nothing_to_the_database(world):
    entry = registry.entry_for_key("collaboration.discovery")
    assert entry.data_class == registry.DataClass.EPHEMERAL
    assert entry.ttl == 300 and entry.backup is False and entry.kind == "store"
    assert not [e for e in registry.model_entries() if "discovery" in e.key.lower()]
    add_member(world)
    with CaptureQueriesContext(connection) as queries:
        discovery.discovery_get(world.member)
        discovery.discovery_get(world.member)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert cache.get(f"discovery_result:{world.member.pk}") is not None


def test_discovery_needs_a_signed_in_user():
    assert api_client().get("/api/v1/me/discovery/").status_code in (401, 403)
