"""Discovery (seed 002 §6): ranked collaborator suggestions, computed, never stored.

Computed from the graph projections (mutual friends, "follows you"), shared projects
(the teams both belong to) and presence (online now in a shared workspace); cached per
user in Django's cache under `discovery_result:{user_id}` for 5 minutes and never
written to the database. Blocks and safety rules are applied again on every read, so a
new block or age-layer change takes effect at once even on a cached result.

Excluded: the caller, existing friends, anyone in a block with the caller (either way),
suspended or banned users, and minors (seed 002: minors are not discoverable). A minor
caller is shown no adults.
"""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from accounts import graph
from accounts.models import AgeLayer, Membership, User, UserStatus
from governance.registry import DataClass, register_store
from workspaces.models import Project, Workspace

from . import presence

CACHE_PREFIX = "discovery_result:"
LIMIT = 20

register_store(
    "collaboration.discovery",
    DataClass.EPHEMERAL,
    storage="Django cache (Redis with REDIS_URL, in-process otherwise): discovery_result:{user_id}",
    reason="Ranked collaborator suggestions (seed 002 §6): computed from projections and "
    "presence, never persisted; disposable.",
    ttl=settings.DISCOVERY_TTL_SECONDS,
)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def discovery_compute(user: User) -> dict:
    """Rank candidates for `user` (reads only; nothing is written anywhere but the cache)."""
    me = str(user.pk)
    projection = graph.projection_get(user.pk)
    friends = set(projection["friends"])
    followers = set(projection["followers"])
    excluded = {me} | friends | set(projection["blocks"]) | set(projection["blocked_by"])

    team_ids = list(Membership.objects.filter(user=user).values_list("team_id", flat=True))
    projects_per_team = dict(
        Project.objects.filter(workspace__team_id__in=team_ids)
        .values_list("workspace__team_id")
        .annotate(n=Count("id"))
        .values_list("workspace__team_id", "n")
    )
    shared_projects: Counter = Counter()
    for uid, team_id in Membership.objects.filter(team_id__in=team_ids).values_list(
        "user_id", "team_id"
    ):
        shared_projects[str(uid)] += projects_per_team.get(team_id, 0)
        shared_projects.setdefault(str(uid), 0)

    mutual: Counter = Counter()
    for friend in friends:
        for other in graph.projection_get(friend)["friends"]:
            mutual[other] += 1

    store = presence.get_store()
    online: set[str] = set()
    for ws_id in Workspace.objects.filter(team_id__in=team_ids).values_list("pk", flat=True):
        online |= {e.user_id for e in store.present(ws_id)}

    candidate_ids = (set(shared_projects) | set(mutual) | followers) - excluded
    people = User.objects.filter(pk__in=candidate_ids, status=UserStatus.ACTIVE).exclude(
        age_layer=AgeLayer.MINOR
    )
    if user.age_layer == AgeLayer.MINOR:
        people = people.exclude(age_layer=AgeLayer.ADULT)
    results = []
    for person in people.only("id", "handle", "display_name"):
        pid = str(person.pk)
        reasons, score = [], 0.0
        if shared_projects.get(pid):
            reasons.append(f"shares {_plural(shared_projects[pid], 'project')}")
            score += 0.35 * min(1.0, shared_projects[pid] / 5)
        elif pid in shared_projects:
            reasons.append("on a team with you")
            score += 0.1
        if mutual.get(pid):
            reasons.append(_plural(mutual[pid], "mutual friend"))
            score += 0.3 * min(1.0, mutual[pid] / 3)
        if pid in followers:
            reasons.append("follows you")
            score += 0.2
        if pid in online:
            reasons.append("online now")
            score += 0.1
        results.append(
            {
                "user": {"id": pid, "handle": person.handle, "display_name": person.display_name},
                "score": round(min(score, 1.0), 3),
                "explanation": " · ".join(reasons),
            }
        )
    results.sort(key=lambda r: (-r["score"], r["user"]["handle"]))
    return {"results": results[:LIMIT], "generated_at": timezone.now().isoformat()}


def _apply_safety(result: dict, *, user: User) -> dict:
    """Re-apply blocks and discoverability on read (a cached result may predate them)."""
    ids = [r["user"]["id"] for r in result["results"]]
    if not ids:
        return result
    blocked = {str(u) for u in graph.block_partners(user)}
    hidden = set(
        str(pk)
        for pk in User.objects.filter(pk__in=ids)
        .exclude(status=UserStatus.ACTIVE, age_layer__in=[AgeLayer.ADULT, AgeLayer.TRANSITIONAL])
        .values_list("pk", flat=True)
    )
    keep = [r for r in result["results"] if r["user"]["id"] not in blocked | hidden]
    return {**result, "results": keep}


def discovery_get(user: User) -> dict:
    """The caller's suggestions: the cached result (5 minutes) or a fresh computation."""
    key = f"{CACHE_PREFIX}{user.pk}"
    result = cache.get(key)
    if result is None:
        result = discovery_compute(user)
        cache.set(key, result, timeout=settings.DISCOVERY_TTL_SECONDS)
    return _apply_safety(result, user=user)
