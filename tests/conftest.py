"""Shared fixtures."""

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection, transaction

from governance.immutability import allow_purge
from tests.tenancy import api_client, make_tenant_world


@pytest.fixture(autouse=True)
def _immutable_tables_flushable(request):
    """Let Django's between-test TRUNCATE past the immutability triggers on PostgreSQL.

    Only transactional tests flush; every database test starts with the flag off,
    so tests themselves always see TRUNCATE refused.
    """
    uses_db = {"db", "transactional_db", "django_db_reset_sequences"} & set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if not uses_db and marker is None:
        yield
        return
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    _set_flush_flag("off")
    yield
    if transactional:
        _set_flush_flag("on")


@pytest.fixture(autouse=True)
def _axes_reset(_immutable_tables_flushable, request):
    """Start every database test with no recorded sign-in failures (django-axes lockouts)."""
    uses_db = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}
    if uses_db & set(request.fixturenames) or request.node.get_closest_marker("django_db"):
        from axes.utils import reset

        reset()
    yield


def _set_flush_flag(value: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('holdfast.test_flush', %s, false)", [value])
    elif value == "on":
        # SQLite flushes with DELETE: empty the append-only tables under a purge permit first.
        with transaction.atomic(), allow_purge(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT tbl_name FROM sqlite_master "
                "WHERE type='trigger' AND name LIKE '%_no_delete'"
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f'DELETE FROM "{table}"')  # noqa: S608


@pytest.fixture
def world(db):
    return make_tenant_world()


@pytest.fixture
def client_for():
    return api_client


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (runs in the DATABASE_URL leg of .ci/run)")


S3_TEST_CREDENTIALS = {"access_key": "testing", "secret_key": "testing", "region": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible HTTP server (moto_server) on 127.0.0.1; yields its endpoint URL."""
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)  # noqa: S310
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    try:
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def s3_storage_settings(settings, s3_server):
    """Point the default and backups storages at a fresh bucket on the test S3 server.

    Returns a dict with bucket, endpoint_url and a boto3 client for direct inspection.
    """
    import boto3

    bucket = f"holdfast-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id=S3_TEST_CREDENTIALS["access_key"],
        aws_secret_access_key=S3_TEST_CREDENTIALS["secret_key"],
        region_name=S3_TEST_CREDENTIALS["region"],
    )
    client.create_bucket(Bucket=bucket)
    options = {
        "bucket_name": bucket,
        "endpoint_url": s3_server,
        "access_key": S3_TEST_CREDENTIALS["access_key"],
        "secret_key": S3_TEST_CREDENTIALS["secret_key"],
        "region_name": S3_TEST_CREDENTIALS["region"],
        "addressing_style": "path",
        "file_overwrite": False,
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**options, "location": "media"},
        },
        "backups": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**options, "location": "backups"},
        },
    }
    settings.S3_BUCKET = bucket
    settings.S3_ENDPOINT_URL = s3_server
    return {"bucket": bucket, "endpoint_url": s3_server, "client": client}
