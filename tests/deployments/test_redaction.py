"""No secret is persisted: the redaction function, and every store of the pipeline tried
with every kind of secret."""

import json

import pytest
from django.apps import apps

from deployments import services
from deployments.models import ApprovalScope, StepStatus
from deployments.redaction import REDACTED, is_secret_key, redact, redact_text

from .helpers import approved

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----"
)
# kind -> (stored value, the part that must never appear in the database)
KINDS = {
    "password key": ({"password": "correct-horse-battery"}, "correct-horse-battery"),
    "secret key": ({"client_secret": "shh-its-a-secret-1"}, "shh-its-a-secret-1"),
    "token key": ({"githubToken": "tok_live_abcdefghij"}, "tok_live_abcdefghij"),
    "api_key key": ({"API_KEY": "key-1234567890abcdef"}, "key-1234567890abcdef"),
    "authorization key": ({"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}, "dXNlcjpwYXNzd29yZA"),
    "bearer value": ({"note": "Bearer eyJhbGciOiJIUzI1NiJ9.abcdefghij.klmnopqrst"}, "eyJhbGciOiJI"),
    "private key value": ({"keyfile": PRIVATE_KEY}, "b3BlbnNzaC1rZXktdjE"),
    "connection string": (
        {"db": "postgres://deploy:pg-pass-777@db.internal:5432/app"},
        "pg-pass-777",
    ),
    "redis url": ({"cache": "redis://:redis-pass-888@cache:6379/0"}, "redis-pass-888"),
    "github token value": ({"list": ["ghp_" + "A" * 36]}, "A" * 36),
    "aws key value": ({"nested": {"id": "AKIA" + "B" * 16}}, "B" * 16),
    "assignment in text": ({"log": "export STRIPE_SECRET=sk_live_zzzz1234"}, "sk_live_zzzz1234"),
}
ALL = {k: v for kind in KINDS.values() for k, v in kind[0].items()}
NEEDLES = [needle for _, needle in KINDS.values()]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_redacted(kind):
    value, needle = KINDS[kind]
    assert needle not in json.dumps(redact(value))
    assert REDACTED in json.dumps(redact(value))


def test_ordinary_values_are_kept():
    data = {
        "max_tokens": 512,
        "author": "Ada",
        "url": "https://example.com/path?q=1",
        "repo": "https://github.com/acme/site.git",
        "token_count_note": None,
        "items": ["build", "test"],
    }
    assert redact(data) == data
    text = "author: Ada\nBuilding 12 pages\ntoken generation finished\nhttps://example.com:8080/x"
    assert redact_text(text) == text


def test_key_names():
    for key in ("password", "DB_PASSWORD", "apiKey", "api-key", "X-Api-Key", "access_token",
                "privateKey", "Set-Cookie", "aws_secret_access_key", "DATABASE_URL"):  # fmt: skip
        assert is_secret_key(key), key
    for key in ("max_tokens", "author", "name", "keyboard", "passage", "tokens"):
        assert not is_secret_key(key), key


def test_redaction_is_idempotent():
    once = redact(ALL)
    assert redact(once) == once


def test_the_process_own_secrets_are_redacted_wherever_they_appear(settings):
    settings.GITHUB_TOKEN = "plain-looking-token-value"
    assert "plain-looking" not in redact_text("pushing with plain-looking-token-value now")


def _dump_pipeline_tables() -> str:
    rows = []
    for model in apps.get_app_config("deployments").get_models():
        rows.extend(model._default_manager.values())
    return json.dumps(rows, default=str)


def test_no_store_of_the_pipeline_keeps_a_secret(project, world, fake_provider):
    """Try every kind of secret through every JSON field and text the pipeline stores."""
    secret_text = " | ".join(f"{k}={v}" if isinstance(v, str) else "" for k, v in ALL.items())
    run, _ = services.run_create(project=project, kind="impl", actor=world.member, metadata=ALL)
    services.run_transition(run=run, status="running", actor=world.member)
    step, _ = services.step_record(
        run=run, step_id="s", status=StepStatus.FAILED, input=ALL, output=ALL, error=secret_text
    )
    services.step_record(run=run, step_id="s", status=StepStatus.SUCCEEDED, output=ALL)
    repo = services.repo_connect(
        project=project, provider="github", owner="acme", name="site", actor=world.member,
        metadata=ALL,
    )  # fmt: skip
    services.repo_update(repo=repo, actor=world.member, metadata={**ALL, "v": 2})
    services.artifact_create(
        project=project, kind="spec", logical_key="k", content=b"c", metadata=ALL
    )
    approval = approved(project, world, ApprovalScope.DEPLOY_PRODUCTION, ALL, metadata=ALL)
    services.approval_reject(
        approval=services.approval_request(
            project=project, scope="repo.push", payload=ALL, actor=world.member,
            intent_summary=f"push {secret_text}",
        )[0],
        actor=world.admin,
        note=secret_text,
    )  # fmt: skip
    services.deployment_create(
        project=project, environment="preview", commit_sha="a" * 40, actor=world.member,
        metadata=ALL,
    )  # fmt: skip
    services.sandbox_job_create(
        project=project, job_type="verify.test", command=["true"], actor=world.member,
        metadata=ALL,
    )  # fmt: skip
    body = {"resource_type": "postgres"}
    infra_approval = approved(project, world, ApprovalScope.INFRA_PROVISION, body)
    services.infra_provision(
        project=project, resource_type="postgres", actor=world.member,
        approval_id=infra_approval.pk, payload=body,
    )  # fmt: skip
    dumped = _dump_pipeline_tables()
    assert approval.payload_sha256 == services.payload_sha256(ALL)  # hashed before redaction
    for needle in NEEDLES + ["s3cr3t-pw", "hunter2hunter2"]:  # the last two: provider answer
        assert needle not in dumped, needle
    assert dumped.count(REDACTED) > 50
