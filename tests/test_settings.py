"""Settings: production guards and the environment switches, each in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAFE = {"DEBUG": "false", "SECRET_KEY": "a-real-secret-" + "x" * 40, "ALLOWED_HOSTS": "example.com"}


def _load(module: str, tmp_path, **overrides) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "S3_BUCKET", "DEBUG", "SECRET_KEY"}
        and k not in {"ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(HOLDFAST_DATA_DIR=str(tmp_path), **overrides)
    code = (
        f"import importlib; s = importlib.import_module({module!r}); "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL.split(':')[0], "
        "s.STORAGES['default']['BACKEND'], s.DEBUG)"
    )
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"DEBUG": "true"}, "DEBUG is on"),
        ({"SECRET_KEY": "holdfast-insecure-development-key-change-me"}, "SECRET_KEY"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is empty"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, broken, message):
    result = _load("config.settings.production", tmp_path, **{**SAFE, **broken})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_starts_when_safe(tmp_path):
    result = _load("config.settings.production", tmp_path, **SAFE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"


def test_production_selected_by_django_env(tmp_path):
    code = "from config.env import settings_module; print(settings_module())"
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_ENV": "production"},
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "config.settings.production"


def test_embedded_default_needs_no_server(tmp_path):
    result = _load("config.settings.local", tmp_path)
    assert result.returncode == 0, result.stderr
    engine, broker, storage, debug = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker == "filesystem"
    assert storage.endswith("FileSystemStorage")
    assert (tmp_path / "broker" / "queue").is_dir()
    assert (tmp_path / "broker" / "control").is_dir()


def test_scaled_out_by_environment(tmp_path):
    result = _load(
        "config.settings.local",
        tmp_path,
        DATABASE_URL="postgres://u:p@db.example:5432/holdfast",
        REDIS_URL="redis://cache.example:6379/0",
        S3_BUCKET="holdfast",
        S3_ENDPOINT_URL="http://s3.example",
    )
    assert result.returncode == 0, result.stderr
    engine, broker, storage, _ = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert broker == "redis"
    assert storage == "storages.backends.s3.S3Storage"
