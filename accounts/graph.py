"""Social graph services and projections (seed 002 §3).

Writes go to the authoritative `Edge` rows (with history) through `edge_create` and
`edge_delete`. Each write drops the two users' cached projections at once and, after
commit, enqueues `accounts.rebuild_graph_projections` to rebuild them from the edges.
Readers call `projection_get`, which serves the cache (Django's cache: Redis with
REDIS_URL, in-process otherwise; `graph_projection:{user_id}`, 5-minute TTL) and
recomputes on a miss. Clients only ever see projections, never edge rows.

Rules:
- friend: a request until the other side posts the same; deleting a friend edge
  removes both directions (unfriend, cancel or decline).
- block: removes every friend and follow edge between the two, both ways; while a block
  exists either way, neither side can friend or follow the other (answered exactly like
  an unknown user, 400 on `to`, so a block is not revealed), mention, DM or see the
  other's presence, and neither appears in the other's discovery.
- minors (seed 002 safer defaults): only friends may follow a minor.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.exceptions import NotFound, ValidationFailed

from .models import AgeLayer, Edge, EdgeType, User, UserStatus

CACHE_PREFIX = "graph_projection:"


def _key(user_id) -> str:
    return f"{CACHE_PREFIX}{user_id}"


# --- reads the other apps use for block effects (authoritative, so "at once") ----------


def blocked_between(a, b) -> bool:
    """True when either user blocks the other (ids or users)."""
    a_id, b_id = getattr(a, "pk", a), getattr(b, "pk", b)
    return Edge.objects.filter(
        Q(from_user_id=a_id, to_user_id=b_id) | Q(from_user_id=b_id, to_user_id=a_id),
        type=EdgeType.BLOCK,
    ).exists()


def block_partners(user) -> set:
    """Ids of everyone the user blocks or is blocked by."""
    uid = getattr(user, "pk", user)
    rows = Edge.objects.filter(Q(from_user_id=uid) | Q(to_user_id=uid), type=EdgeType.BLOCK)
    return {f if f != uid else t for f, t in rows.values_list("from_user_id", "to_user_id")}


def exclude_block_partners(users, viewer):
    """`users` (a User queryset) without anyone in a block with `viewer`, as subqueries of
    the same SQL statement (no extra query)."""
    vid = getattr(viewer, "pk", viewer)
    out = Edge.objects.filter(type=EdgeType.BLOCK, from_user_id=vid).values("to_user_id")
    inc = Edge.objects.filter(type=EdgeType.BLOCK, to_user_id=vid).values("from_user_id")
    return users.exclude(pk__in=out).exclude(pk__in=inc)


def are_friends(a, b) -> bool:
    a_id, b_id = getattr(a, "pk", a), getattr(b, "pk", b)
    return (
        Edge.objects.filter(
            Q(from_user_id=a_id, to_user_id=b_id) | Q(from_user_id=b_id, to_user_id=a_id),
            type=EdgeType.FRIEND,
        ).count()
        == 2
    )


# --- projections ---------------------------------------------------------------------------


def trust_score(*, friends: int, followers: int, blocked_by: int) -> float:
    """0..1: grows with friends and followers, falls with every user who blocks this one."""
    base = min(1.0, (friends + 0.5 * followers) / 10.0)
    return round(max(0.0, min(1.0, 0.5 + 0.5 * base - 0.1 * blocked_by)), 3)


def projection_compute(user_id) -> dict:
    """The projection rebuilt from the authoritative edges (two indexed queries)."""
    out = list(Edge.objects.filter(from_user_id=user_id).values_list("to_user_id", "type"))
    inc = list(Edge.objects.filter(to_user_id=user_id).values_list("from_user_id", "type"))
    friend_out = {str(u) for u, t in out if t == EdgeType.FRIEND}
    friend_in = {str(u) for u, t in inc if t == EdgeType.FRIEND}
    friends = sorted(friend_out & friend_in)
    following = sorted(str(u) for u, t in out if t == EdgeType.FOLLOW)
    followers = sorted(str(u) for u, t in inc if t == EdgeType.FOLLOW)
    blocks = sorted(str(u) for u, t in out if t == EdgeType.BLOCK)
    blocked_by = sorted(str(u) for u, t in inc if t == EdgeType.BLOCK)
    return {
        "user_id": str(user_id),
        "friends": friends,
        "followers": followers,
        "following": following,
        "blocks": blocks,
        "blocked_by": blocked_by,  # internal: the API never shows who blocks the caller
        "requests_sent": sorted(friend_out - friend_in),
        "requests_received": sorted(friend_in - friend_out),
        "counts": {
            "friends": len(friends),
            "followers": len(followers),
            "following": len(following),
            "blocks": len(blocks),
        },
        "trust_score": trust_score(
            friends=len(friends), followers=len(followers), blocked_by=len(blocked_by)
        ),
        "updated_at": timezone.now().isoformat(),
    }


def projection_rebuild(user_id) -> dict:
    """Recompute from edges and store in the cache (what the Celery task runs)."""
    projection = projection_compute(user_id)
    cache.set(_key(user_id), projection, timeout=settings.GRAPH_PROJECTION_TTL_SECONDS)
    return projection


def projection_get(user_id) -> dict:
    """The cached projection, rebuilt on a miss (TTL expiry or a write since)."""
    projection = cache.get(_key(user_id))
    if projection is None:
        projection = projection_rebuild(user_id)
    return projection


def projection_cached(user_id) -> dict | None:
    return cache.get(_key(user_id))


def _invalidate(*user_ids) -> None:
    cache.delete_many([_key(u) for u in user_ids])
    ids = [str(u) for u in user_ids]

    def enqueue():
        from .tasks import rebuild_graph_projections

        rebuild_graph_projections.delay(ids)

    transaction.on_commit(enqueue)


# --- writes ---------------------------------------------------------------------------------


def _save_edge(*, actor: User, to: User, type: str) -> tuple[Edge, bool]:
    existing = Edge.objects.filter(from_user=actor, to_user=to, type=type).first()
    if existing is not None:
        return existing, False
    edge = Edge(from_user=actor, to_user=to, type=type)
    edge._history_user = actor
    edge._change_reason = f"{type} edge created"
    edge.save()
    return edge, True


def _delete_edges(queryset, *, actor: User | None, reason: str) -> int:
    count = 0
    for edge in queryset.select_for_update():
        edge._history_user = actor
        edge._change_reason = reason
        edge.delete()
        count += 1
    return count


@transaction.atomic
def edge_create(*, actor: User, to: User, type: str) -> tuple[Edge, bool]:
    """Create actor → to of `type`; returns (edge, created). Idempotent."""
    try:
        type = EdgeType(type)
    except ValueError:
        raise ValidationFailed(
            "Not an edge type (friend, follow or block).", field="type"
        ) from None
    if to.pk == actor.pk:
        raise ValidationFailed("You cannot connect to yourself.", field="to")
    if type == EdgeType.BLOCK:
        edge, created = _save_edge(actor=actor, to=to, type=type)
        between = Q(from_user=actor, to_user=to) | Q(from_user=to, to_user=actor)
        _delete_edges(
            Edge.objects.filter(between, type__in=[EdgeType.FRIEND, EdgeType.FOLLOW]),
            actor=actor,
            reason="removed by a block",
        )
        _invalidate(actor.pk, to.pk)
        return edge, created
    if to.status != UserStatus.ACTIVE or blocked_between(actor, to):
        # The same answer as for an unknown user: a block is never revealed.
        raise ValidationFailed("No such user.", field="to")
    if type == EdgeType.FOLLOW and to.age_layer == AgeLayer.MINOR and not are_friends(actor, to):
        raise ValidationFailed("Only friends can follow a minor.", field="to")
    edge, created = _save_edge(actor=actor, to=to, type=type)
    if created:
        _invalidate(actor.pk, to.pk)
    return edge, created


@transaction.atomic
def edge_delete(*, actor: User, to_id, type: str) -> int:
    """Remove actor → to of `type` (a friend edge: both ways). Returns rows removed."""
    try:
        type = EdgeType(type)
    except ValueError:
        raise NotFound("No such edge.") from None
    qs = Edge.objects.filter(from_user=actor, to_user_id=to_id, type=type)
    if type == EdgeType.FRIEND:
        qs = Edge.objects.filter(
            Q(from_user=actor, to_user_id=to_id) | Q(from_user_id=to_id, to_user=actor),
            type=type,
        )
    removed = _delete_edges(qs, actor=actor, reason=f"{type} edge removed")
    if not removed:
        raise NotFound("No such edge.")
    _invalidate(actor.pk, to_id)
    return removed


def relation_state(*, actor: User, to: User, type: str) -> str:
    """What the caller now has with `to` for `type`: requested / friends / following / blocking."""
    if type == EdgeType.FRIEND:
        return "friends" if are_friends(actor, to) else "requested"
    return {EdgeType.FOLLOW: "following", EdgeType.BLOCK: "blocking"}[EdgeType(type)]
