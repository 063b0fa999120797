"""Presence: ephemeral entries that expire with their TTL, in Redis or in process."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from collaboration import presence, selectors, services
from governance.registry import DataClass, store_entries

from .helpers import add_member

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def short_ttl(settings):
    settings.PRESENCE_TTL_SECONDS = 1
    settings.PRESENCE_KEY_PREFIX = f"holdfast-test-{uuid.uuid4().hex[:8]}:"
    return 1


def test_store_is_redis_when_configured_else_in_process():
    store = presence.get_store()
    if django_settings.REDIS_URL:
        assert isinstance(store, presence.RedisPresenceStore)
        assert store.client.ping()
    else:
        assert isinstance(store, presence.MemoryPresenceStore)


def test_entries_expire_after_the_ttl(world, short_ttl):
    services.presence_heartbeat(
        workspace=world.workspace, actor=world.member, status="online", activity="chatting"
    )
    present = selectors.presence_list(workspace=world.workspace)
    assert [(p.user, p.entry.status, p.entry.activity) for p in present] == [
        (world.member, "online", "chatting")
    ]
    time.sleep(0.6)
    services.presence_heartbeat(  # a fresh heartbeat keeps the viewer present longer
        workspace=world.workspace, actor=world.viewer, status="away", activity="idle"
    )
    time.sleep(0.6)
    assert [p.user for p in selectors.presence_list(workspace=world.workspace)] == [world.viewer]
    time.sleep(0.6)
    assert selectors.presence_list(workspace=world.workspace) == []


def test_redis_keeps_nothing_after_expiry(world, short_ttl):
    if not django_settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    store = presence.get_store()
    services.presence_heartbeat(
        workspace=world.workspace, actor=world.member, status="online", activity="chatting"
    )
    keys = store.client.keys(f"{store.prefix}presence:{world.workspace.pk}*")
    assert len(keys) == 2
    assert all(0 < store.client.pttl(k) <= 2000 for k in keys)
    time.sleep(2.2)
    assert store.client.keys(f"{store.prefix}presence:{world.workspace.pk}*") == []


def test_presence_is_per_workspace_and_members_only(world, short_ttl):
    from tests.tenancy import make_tenant_world

    other = make_tenant_world()
    services.presence_heartbeat(
        workspace=other.workspace, actor=other.member, status="online", activity="idle"
    )
    leaver = add_member(world)
    services.presence_heartbeat(
        workspace=world.workspace, actor=leaver, status="online", activity="idle"
    )
    assert [p.user for p in selectors.presence_list(workspace=world.workspace)] == [leaver]
    leaver.memberships.all().delete()
    assert selectors.presence_list(workspace=world.workspace) == []
    assert [p.user for p in selectors.presence_list(workspace=other.workspace)] == [other.member]


def test_presence_never_touches_the_database(world, django_assert_num_queries):
    with django_assert_num_queries(0):
        services.presence_heartbeat(
            workspace=world.workspace, actor=world.member, status="online", activity="idle"
        )


def test_registered_as_an_ephemeral_store_with_its_ttl():
    entry = next(e for e in store_entries() if e.key == "collaboration.presence")
    assert entry.data_class == DataClass.EPHEMERAL
    assert entry.ttl == 90 and entry.backup is False


@pytest.mark.parametrize("value, ok", [("59", False), ("60", True), ("120", True), ("121", False)])
def test_ttl_setting_must_be_between_60_and_120(value, ok):
    env = {
        **os.environ,
        "PRESENCE_TTL_SECONDS": value,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode == 0) == ok, result.stderr[-500:]
    if not ok:
        assert "PRESENCE_TTL_SECONDS must be between 60 and 120" in result.stderr
