"""Seed 002 §3: authoritative edges, block effects on the graph, cached projections that
always equal a full recount (property test plus 10,000 random operations)."""

import random

import pytest
from django.core.cache import cache
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import graph, identity
from accounts.models import Edge
from accounts.tasks import rebuild_graph_projections
from common.exceptions import NotFound, ValidationFailed
from governance import registry
from tests.factories import UserFactory
from tests.tenancy import api_client

pytestmark = pytest.mark.django_db

TYPES = ["friend", "follow", "block"]


class Reference:
    """The rules, in plain Python over a set of (from, to, type)."""

    def __init__(self):
        self.edges: set[tuple[str, str, str]] = set()

    def blocked(self, a, b):
        return (a, b, "block") in self.edges or (b, a, "block") in self.edges

    def create(self, a, b, t):
        if t == "block":
            self.edges.add((a, b, t))
            for x, y in ((a, b), (b, a)):
                self.edges -= {(x, y, "friend"), (x, y, "follow")}
            return True
        if self.blocked(a, b):
            return False
        self.edges.add((a, b, t))
        return True

    def delete(self, a, b, t):
        gone = {(a, b, t)} | ({(b, a, t)} if t == "friend" else set())
        hit = gone & self.edges
        self.edges -= gone
        return bool(hit)

    def recount(self, u):
        out = {(b, t) for a, b, t in self.edges if a == u}
        inc = {(a, t) for a, b, t in self.edges if b == u}
        fo = {b for b, t in out if t == "friend"}
        fi = {a for a, t in inc if t == "friend"}
        return {
            "friends": sorted(fo & fi),
            "followers": sorted(a for a, t in inc if t == "follow"),
            "following": sorted(b for b, t in out if t == "follow"),
            "blocks": sorted(b for b, t in out if t == "block"),
            "blocked_by": sorted(a for a, t in inc if t == "block"),
            "requests_sent": sorted(fo - fi),
            "requests_received": sorted(fi - fo),
        }


def _apply(users, ref, op):
    kind, i, j, t = op
    a, b = users[i], users[j]
    if a.pk == b.pk:
        return
    if kind == "create":
        expected = ref.create(str(a.pk), str(b.pk), t)
        try:
            graph.edge_create(actor=a, to=b, type=t)
            assert expected, op
        except ValidationFailed:
            assert not expected, op
    else:
        expected = ref.delete(str(a.pk), str(b.pk), t)
        try:
            graph.edge_delete(actor=a, to_id=b.pk, type=t)
            assert expected, op
        except NotFound:
            assert not expected, op


def _assert_projections_match(users, ref):
    for u in users:
        projection = graph.projection_get(u.pk)
        expected = ref.recount(str(u.pk))
        assert {k: projection[k] for k in expected} == expected
        assert projection["counts"] == {
            k: len(expected[k]) for k in ("friends", "followers", "following", "blocks")
        }


@pytest.fixture
def people():
    return [UserFactory() for _ in range(6)]


OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "create", "delete"]),
        st.integers(0, 5),
        st.integers(0, 5),
        st.sampled_from(TYPES),
    ),
    max_size=30,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_projection_equals_recount_for_any_operation_sequence(people, ops):
    cache.delete_many([f"graph_projection:{u.pk}" for u in people])
    with transaction.atomic():
        ref = Reference()
        for op in ops:
            _apply(people, ref, op)
        _assert_projections_match(people, ref)
        # The async rebuild (the Celery task body) gives the same projection.
        rebuild_graph_projections([str(u.pk) for u in people])
        for u in people:
            assert graph.projection_cached(u.pk)["friends"] == ref.recount(str(u.pk))["friends"]
        transaction.set_rollback(True)
    cache.delete_many([f"graph_projection:{u.pk}" for u in people])


def test_projection_equals_recount_after_10000_random_operations():
    users = [UserFactory() for _ in range(12)]
    rng = random.Random(20261202)  # noqa: S311  (a reproducible test sequence)
    ref = Reference()
    for step in range(10_000):
        op = (
            rng.choice(["create", "create", "delete"]),
            rng.randrange(12),
            rng.randrange(12),
            rng.choice(TYPES),
        )
        _apply(users, ref, op)
        if step % 2500 == 2499:
            _assert_projections_match(users, ref)
    rebuild_graph_projections([str(u.pk) for u in users])
    _assert_projections_match(users, ref)
    assert Edge.objects.count() == len(ref.edges)


def test_edges_are_unique_per_from_to_type_in_the_database():
    a, b = UserFactory(), UserFactory()
    graph.edge_create(actor=a, to=b, type="follow")
    _, created = graph.edge_create(actor=a, to=b, type="follow")
    assert not created
    with pytest.raises(IntegrityError), transaction.atomic():
        Edge.objects.create(from_user=a, to_user=b, type="follow")
    with pytest.raises(IntegrityError), transaction.atomic():
        Edge.objects.create(from_user=a, to_user=a, type="follow")


def test_friend_is_a_request_until_accepted_and_block_removes_edges():
    a, b = UserFactory(), UserFactory()
    graph.edge_create(actor=a, to=b, type="friend")
    assert graph.projection_get(a.pk)["friends"] == []
    assert graph.projection_get(b.pk)["requests_received"] == [str(a.pk)]
    graph.edge_create(actor=b, to=a, type="friend")
    assert graph.projection_get(a.pk)["friends"] == [str(b.pk)]  # the write dropped the cache
    graph.edge_create(actor=b, to=a, type="follow")
    graph.edge_create(actor=a, to=b, type="block")
    assert set(Edge.objects.values_list("type", flat=True)) == {"block"}
    with pytest.raises(ValidationFailed):
        graph.edge_create(actor=b, to=a, type="friend")
    with pytest.raises(ValidationFailed):
        graph.edge_create(actor=a, to=b, type="follow")  # the blocker too, until unblocked
    assert graph.blocked_between(a, b) and graph.blocked_between(b, a)
    graph.edge_delete(actor=a, to_id=b.pk, type="block")
    graph.edge_create(actor=b, to=a, type="follow")
    # Every removal is in the edge history with its reason.
    reasons = set(Edge.history.values_list("history_change_reason", flat=True))
    assert "removed by a block" in reasons


def test_only_friends_may_follow_a_minor():
    adult, minor = UserFactory(), UserFactory()
    minor = identity.user_set_age_layer(
        user=minor, age_layer="minor", actor=None, reason="declared"
    )
    with pytest.raises(ValidationFailed):
        graph.edge_create(actor=adult, to=minor, type="follow")
    graph.edge_create(actor=adult, to=minor, type="friend")
    graph.edge_create(actor=minor, to=adult, type="friend")
    graph.edge_create(actor=adult, to=minor, type="follow")


def test_projection_store_is_registered_ephemeral_with_a_five_minute_ttl():
    entry = registry.entry_for_key("accounts.graph_projection")
    assert entry.data_class == "ephemeral" and entry.ttl == 300 and not entry.backup


def test_edge_write_enqueues_the_rebuild_after_commit(django_capture_on_commit_callbacks):
    a, b = UserFactory(), UserFactory()
    graph.projection_get(a.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        graph.edge_create(actor=a, to=b, type="follow")
    assert graph.projection_cached(a.pk) is None  # dropped at once
    assert len(callbacks) == 1


def test_graph_api_returns_projections_never_raw_edges(django_assert_max_num_queries):
    a, b, c = UserFactory(), UserFactory(), UserFactory()
    client = api_client(a)
    response = client.post("/api/v1/me/edges/", {"to": b.handle, "type": "friend"})
    assert response.status_code == 201 and response.json()["state"] == "requested"
    assert (
        api_client(b).post("/api/v1/me/edges/", {"to": a.email, "type": "friend"}).json()["state"]
        == "friends"
    )
    assert client.post("/api/v1/me/edges/", {"to": str(c.pk), "type": "follow"}).status_code == 201
    assert client.post("/api/v1/me/edges/", {"to": str(c.pk), "type": "follow"}).status_code == 200
    api_client(c).post("/api/v1/me/edges/", {"to": a.handle, "type": "block"})
    bad = client.post("/api/v1/me/edges/", {"to": b.handle, "type": "poke"})
    assert bad.status_code == 400 and "type" in bad.json()
    unknown = client.post("/api/v1/me/edges/", {"to": "nobody", "type": "follow"})
    blocked = client.post("/api/v1/me/edges/", {"to": c.handle, "type": "follow"})
    assert unknown.status_code == blocked.status_code == 400
    assert unknown.json() == blocked.json() == {"to": ["No such user."]}  # block not revealed
    assert client.post("/api/v1/me/edges/", {"to": a.handle, "type": "follow"}).status_code == 400
    with django_assert_max_num_queries(6):
        body = client.get("/api/v1/me/graph/").json()
    assert set(body) >= {"friends", "followers", "following", "blocks", "counts", "updated_at"}
    assert [f["handle"] for f in body["friends"]] == [b.handle]
    assert body["following"] == []  # c's block removed a's follow
    assert "blocked_by" not in body  # the caller never learns who blocks them
    blocked = api_client(c).get("/api/v1/me/graph/").json()
    assert [u["handle"] for u in blocked["blocks"]] == [a.handle]
    assert client.delete(f"/api/v1/me/edges/friend/{b.pk}/").status_code == 204
    assert client.delete(f"/api/v1/me/edges/friend/{b.pk}/").status_code == 404
    assert client.delete(f"/api/v1/me/edges/poke/{b.pk}/").status_code == 404
    assert api_client().get("/api/v1/me/graph/").status_code in (401, 403)
