"""Cross-database restore: a backup chain taken on SQLite restores onto PostgreSQL, and one
taken on PostgreSQL restores onto SQLite, with the full API dump equal both ways.

The test runs in the PostgreSQL leg (this process); the SQLite side is a real
`manage.py` instance in a subprocess with its own data folder, sharing backup storage.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.models import User
from durability import services
from tests.durability.api_dump import dump
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

SIDE = r"""
import json, sys, django
from config.env import configure
configure(); django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from accounts.models import User
from durability import services
from tests.durability.api_dump import dump
from tests.durability.test_cross_database import edit, fill
from workspaces.models import Workspace

mode, out = sys.argv[1], sys.argv[2]
if mode == "make":
    from tests.tenancy import make_tenant_world
    world = make_tenant_world()
    fill(world)
    full = services.backup_create(workspace=world.workspace)
    edit(world.workspace, world.owner)
    delta = services.backup_create(workspace=world.workspace, incremental=True)
    result = {
        "full": full.backup_id, "delta": delta.backup_id, "slug": world.workspace.slug,
        "owner": world.owner.email, "dump": dump(world.workspace, world.owner),
    }
else:
    slug, email = sys.argv[4], sys.argv[5]
    services.backup_restore(backup_id=sys.argv[3])
    result = {"dump": dump(Workspace.objects.get(slug=slug), User.objects.get(email=email))}
with open(out, "w") as fh:
    json.dump(result, fh, default=str)
"""


def fill(world):
    """History, a run, blobs, files (populate) and a chat thread with edits and reactions."""
    from collaboration import services as chat
    from tests.durability.conftest import populate

    populate(world)
    thread = chat.thread_create(workspace=world.workspace, title="General", actor=world.owner)
    first, _ = chat.message_post(thread=thread, body='hello ünïcode\n"q"', actor=world.owner)
    chat.message_react(thread=thread, message_id=first.pk, emoji="+1", actor=world.member)
    chat.message_edit(thread=thread, message_id=first.pk, body="edited", actor=world.owner)


def edit(workspace, actor):
    """Changes between a full backup and its delta: a new project, a rename, a chat delete."""
    from collaboration import services as chat
    from collaboration.models import Thread
    from workspaces import services as ws_services
    from workspaces.models import Project

    project = Project.objects.filter(workspace=workspace).order_by("slug").first()
    ws_services.project_update(project=project, actor=actor, name="Renamed after the full")
    ws_services.project_create(workspace=workspace, name="Delta", slug="delta", actor=actor)
    thread = Thread.objects.get(workspace=workspace)
    second, _ = chat.message_post(thread=thread, body="second", actor=actor)
    chat.message_delete(thread=thread, message_id=second.pk, actor=actor)


def _side(tmp_path, name, *args):
    data = tmp_path / name
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET", "DJANGO_SETTINGS_MODULE")
    }
    env.update(HOLDFAST_DATA_DIR=str(data), DJANGO_ENV="local")
    manage = [sys.executable, str(ROOT / "manage.py")]
    if not (data / "db.sqlite3").exists():
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = tmp_path / f"{name}-{args[0]}.json"
    done = subprocess.run(
        [sys.executable, "-c", SIDE, args[0], str(out), *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def _storages(settings, data, media):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(data / "backups")},
        },
    }


def _normal(value):
    return json.loads(json.dumps(value, default=str))


def test_sqlite_backups_restore_onto_postgresql_and_back(postgres_only, tmp_path, settings):
    made = _side(tmp_path, "sqlite", "make")

    # SQLite -> PostgreSQL: the delta (full + delta in one transaction)
    _storages(settings, tmp_path / "sqlite", tmp_path / "pg-media")
    result = services.backup_restore(backup_id=made["delta"])
    assert result["mode"] == "create"
    workspace = Workspace.objects.get(slug=made["slug"])
    owner = User.objects.get(email=made["owner"])
    here = _normal(dump(workspace, owner))
    assert here == made["dump"]

    # PostgreSQL -> SQLite: a full backup and a delta taken here, restored in a fresh instance
    _storages(settings, tmp_path / "back", tmp_path / "pg-media")
    services.backup_create(workspace=workspace)
    from workspaces import services as ws_services

    ws_services.project_create(workspace=workspace, name="On PG", slug="on-pg", actor=owner)
    delta = services.backup_create(workspace=workspace, incremental=True)
    expected = _normal(dump(workspace, owner))
    back = _side(tmp_path, "back", "restore", delta.backup_id, made["slug"], made["owner"])
    assert back["dump"] == expected
