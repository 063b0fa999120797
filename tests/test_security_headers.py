"""Production headers: `check --deploy` is clean under production settings; app pages carry
django-csp's policy; previews carry their own sandboxing policy; HSTS on https."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import ProjectFactory

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    environment = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests for their live server.
        if k not in {"DATABASE_URL", "REDIS_URL", "S3_BUCKET", "DJANGO_SETTINGS_MODULE"}
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="holdfast.example.com",
        HOLDFAST_DATA_DIR=str(tmp_path),
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_app_pages_carry_the_csp(world):
    client = Client()
    client.force_login(world.member)
    response = client.get(f"/w/{world.workspace.slug}/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    assert "Content-Security-Policy" in Client().get("/accounts/login/").headers


@pytest.mark.django_db
def test_previews_carry_a_sandbox_policy_with_default_src_and_no_forms(world):
    from deployments import services

    project = ProjectFactory(workspace=world.workspace)
    preview = services.preview_create(
        project=project, slug="csp-page", actor=world.member, visibility="public"
    )
    services.preview_version_create(preview=preview, content={"html": "<p>x</p>"},
                                    actor=world.member)  # fmt: skip
    policy = Client().get("/p/csp-page/")["Content-Security-Policy"]
    assert policy.startswith("sandbox") and "allow-forms" not in policy
    assert "default-src" in policy and "form-action 'none'" in policy


def test_hsts_on_secure_requests(settings, db):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = Client().get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
