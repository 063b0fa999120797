"""Structured request logs: one JSON object per request per line, pruned after retention."""

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from common import request_logs as stores
from common.schedule import BEAT_SCHEDULE
from common.tasks import prune_request_logs
from governance.registry import store_entries
from tests.tenancy import api_client


def _lines(day=None):
    path = stores.log_path(day or timezone.now().date())
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.django_db
def test_each_request_writes_one_json_line(world, settings):
    client = api_client(world.member)
    response = client.get(
        f"/api/v1/workspaces/{world.workspace.slug}/projects/", HTTP_X_REQUEST_ID="req-42"
    )
    assert response.status_code == 200 and response["X-Request-ID"] == "req-42"
    client.get("/api/v1/workspaces/nope/projects/")
    first, second = _lines()
    assert first["request_id"] == "req-42"
    assert first["user_id"] == str(world.member.pk)
    assert first["workspace"] == world.workspace.slug
    assert (first["method"], first["status"]) == ("GET", 200)
    assert first["path"] == f"/api/v1/workspaces/{world.workspace.slug}/projects/"
    assert first["duration_ms"] >= 0 and first["ts"]
    assert second["status"] == 404 and len(second["request_id"]) == 32
    assert stores.log_path(timezone.now().date()).parent == settings.LOG_DIR
    assert stores.log_path(timezone.now().date()).name.startswith("holdfast-")


@pytest.mark.django_db
def test_anonymous_request_logs_no_user(client):
    client.get("/")
    (line,) = _lines()
    assert line["user_id"] is None and line["workspace"] is None and line["status"] == 200


@pytest.mark.django_db
def test_a_bad_request_id_is_replaced(client):
    response = client.get("/", HTTP_X_REQUEST_ID="x" * 500)
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_an_unwritable_log_folder_does_not_fail_requests(client, settings, tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    settings.LOG_DIR = blocker / "logs"
    assert client.get("/").status_code == 200


def test_pruning_keeps_the_retention_window(settings):
    today = date(2026, 12, 15)
    for age in range(0, 20):
        stores.log_append({"age": age}, day=today - timedelta(days=age))
    (settings.LOG_DIR / "notes.txt").write_text("not a log")
    removed = stores.request_logs_prune(today=today, retention_days=14)
    assert len(removed) == 6  # ages 14..19
    kept = sorted(day for day, _ in stores.log_files())
    assert kept[0] == today - timedelta(days=13) and kept[-1] == today and len(kept) == 14
    assert (settings.LOG_DIR / "notes.txt").exists()
    assert stores.request_logs_prune(today=today, retention_days=14) == []


def test_prune_task_reads_the_setting(settings, db):  # every task checks the schema version
    settings.LOG_RETENTION_DAYS = 2
    today = timezone.now().date()
    for age in range(5):
        stores.log_append({"age": age}, day=today - timedelta(days=age))
    assert prune_request_logs() == 3
    assert len(stores.log_files()) == 2


def test_pruning_a_missing_folder_is_a_no_op(settings):
    assert not settings.LOG_DIR.exists()
    assert stores.request_logs_prune() == []


def test_the_log_store_is_registered_with_its_cleanup_job():
    logs = {e.key: e for e in store_entries()}["common.request_logs"]
    assert (
        logs.data_class == "ephemeral" and logs.ttl and logs.cleanup == "common.prune_request_logs"
    )
    assert logs.writer is stores.log_append


def test_the_prune_job_is_in_beat_and_names_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    for name, entry in BEAT_SCHEDULE.items():
        assert app.conf.beat_schedule[name]["task"] == entry["task"]
        assert entry["task"] in app.tasks, entry["task"]
    assert {entry["task"] for entry in BEAT_SCHEDULE.values()} == {"common.prune_request_logs"}
