"""Presence: who is in a workspace right now. Ephemeral, never in the database, no history.

With `REDIS_URL` set, each workspace has one Redis sorted set
`{PRESENCE_KEY_PREFIX}presence:{workspace_id}` whose members are user ids scored by
the entry's expiry (epoch seconds), plus one small string key per user holding
`{status, activity, updated_at}` with a real Redis TTL. Reads drop expired members
first, so an entry is gone `PRESENCE_TTL_SECONDS` after its last heartbeat (default
90 s, allowed 60-120 s). The set itself expires with its newest entry.

Without Redis an in-process store keeps the same semantics (per process: fine for the
embedded default's single web process, and for tests).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import models

from governance.registry import DataClass, register_store


class PresenceStatus(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    BUSY = "busy", "Busy"
    OFFLINE = "offline", "Offline"  # a heartbeat with this status removes the entry


class PresenceActivity(models.TextChoices):
    CHATTING = "chatting", "Chatting"
    BROWSING = "browsing", "Browsing"
    EDITING = "editing", "Editing"
    IDLE = "idle", "Idle"


@dataclass(frozen=True)
class PresenceEntry:
    user_id: str
    status: str
    activity: str
    updated_at: float  # epoch seconds
    expires_at: float


def ttl_seconds() -> int:
    return int(settings.PRESENCE_TTL_SECONDS)


class MemoryPresenceStore:
    """Process-local store: {workspace_id: {user_id: PresenceEntry}} behind a lock."""

    def __init__(self):
        self._data: dict[str, dict[str, PresenceEntry]] = {}
        self._lock = threading.Lock()

    def heartbeat(self, workspace_id, user_id, *, status: str, activity: str) -> PresenceEntry:
        now = time.time()
        entry = PresenceEntry(str(user_id), status, activity, now, now + ttl_seconds())
        with self._lock:
            self._prune(str(workspace_id), now)
            self._data.setdefault(str(workspace_id), {})[str(user_id)] = entry
        return entry

    def leave(self, workspace_id, user_id) -> None:
        with self._lock:
            self._data.get(str(workspace_id), {}).pop(str(user_id), None)

    def present(self, workspace_id) -> list[PresenceEntry]:
        now = time.time()
        with self._lock:
            self._prune(str(workspace_id), now)
            return sorted(self._data.get(str(workspace_id), {}).values(), key=lambda e: e.user_id)

    def _prune(self, workspace_id: str, now: float) -> None:
        entries = self._data.get(workspace_id)
        if entries is None:
            return
        for user_id in [u for u, e in entries.items() if e.expires_at <= now]:
            del entries[user_id]
        if not entries:
            del self._data[workspace_id]


class RedisPresenceStore:
    """One sorted set per workspace scored by expiry, plus a TTL'd detail key per user."""

    def __init__(self, url: str, prefix: str):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix

    def _set_key(self, workspace_id) -> str:
        return f"{self.prefix}presence:{workspace_id}"

    def _entry_key(self, workspace_id, user_id) -> str:
        return f"{self.prefix}presence:{workspace_id}:{user_id}"

    def heartbeat(self, workspace_id, user_id, *, status: str, activity: str) -> PresenceEntry:
        ttl = ttl_seconds()
        now = time.time()
        entry = PresenceEntry(str(user_id), status, activity, now, now + ttl)
        detail = json.dumps({"status": status, "activity": activity, "updated_at": now})
        zkey = self._set_key(workspace_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.zremrangebyscore(zkey, "-inf", now)
        pipe.zadd(zkey, {str(user_id): entry.expires_at})
        pipe.expire(zkey, ttl + 1)
        pipe.set(self._entry_key(workspace_id, user_id), detail, px=int(ttl * 1000))
        pipe.execute()
        return entry

    def leave(self, workspace_id, user_id) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self._set_key(workspace_id), str(user_id))
        pipe.delete(self._entry_key(workspace_id, user_id))
        pipe.execute()

    def present(self, workspace_id) -> list[PresenceEntry]:
        now = time.time()
        zkey = self._set_key(workspace_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.zremrangebyscore(zkey, "-inf", now)
        pipe.zrangebyscore(zkey, f"({now}", "+inf", withscores=True)
        _, members = pipe.execute()
        if not members:
            return []
        details = self.client.mget([self._entry_key(workspace_id, u) for u, _ in members])
        entries = []
        for (user_id, expires_at), raw in zip(members, details, strict=True):
            if raw is None:  # the detail key expired a moment before the set member
                continue
            data = json.loads(raw)
            entries.append(
                PresenceEntry(
                    user_id, data["status"], data["activity"], data["updated_at"], expires_at
                )
            )
        return sorted(entries, key=lambda e: e.user_id)


_memory_store = MemoryPresenceStore()
_redis_stores: dict[tuple[str, str], RedisPresenceStore] = {}


def get_store():
    """The Redis store when settings.REDIS_URL is set, else the process-local one."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return _memory_store
    key = (url, settings.PRESENCE_KEY_PREFIX)
    if key not in _redis_stores:
        _redis_stores[key] = RedisPresenceStore(url, settings.PRESENCE_KEY_PREFIX)
    return _redis_stores[key]


def register() -> None:
    register_store(
        "collaboration.presence",
        DataClass.EPHEMERAL,
        tenant="workspace",
        storage=(
            f"Redis sorted set {settings.PRESENCE_KEY_PREFIX}presence:{{workspace_id}} "
            "(+ one TTL'd key per user); in process without REDIS_URL"
        ),
        ttl=ttl_seconds(),
        reason="Who is online right now: disposable and privacy-sensitive, expires with its TTL.",
    )
