"""The README's production path: `migrate_safely`, then gunicorn serving config.wsgi."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from durability.versions import APP_VERSION

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str, timeout: float = 2) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_production_serves_only_after_migrate_safely_stamps_the_schema(tmp_path):
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "S3_BUCKET", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(
        DJANGO_ENV="production",
        DEBUG="false",
        SECRET_KEY="a-production-secret-" + "y" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        HOLDFAST_DATA_DIR=str(tmp_path / "data"),
        SECURE_SSL_REDIRECT="false",  # plain http straight to gunicorn, no TLS proxy here
    )
    manage = [sys.executable, "manage.py"]
    migrated = subprocess.run(  # noqa: S603
        [*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=environment, timeout=300
    )
    assert migrated.returncode == 0
    port = _free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(  # noqa: S603
        [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "1", "config.wsgi"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/schema/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                first = _status(url)
                break
            except OSError:
                assert server.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert first == 503  # plain `migrate` left the schema version at 0
        stamped = subprocess.run(  # noqa: S603
            [*manage, "migrate_safely", "-v", "0"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert stamped.returncode == 0, stamped.stderr
        assert f"Schema is at app version {APP_VERSION}" in stamped.stdout
        # Building the schema document takes seconds on a loaded CI machine.
        assert _status(url, timeout=60) == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
