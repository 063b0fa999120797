"""History tables, artifacts and preview versions refuse UPDATE/DELETE; deployment rows
refuse every change except a forward status transition (and DELETE outside a purge)."""

from django.db import migrations

from governance.immutability import PG_FUNCTION, immutable_tables

TABLE = "deployments_deployment"
FROZEN = [
    "id",
    "created_at",
    "project_id",
    "run_id",
    "repo_id",
    "environment",
    "provider",
    "external_project_id",
    "external_deployment_id",
    "url",
    "commit_sha",
    "metadata",
    "approval_id",
    "created_by_id",
    "idempotency_key",
]
FORWARD = {
    "queued": ["building", "ready", "error", "cancelled"],
    "building": ["ready", "error", "cancelled"],
}
TERMINAL = ["ready", "error", "cancelled"]


def _quoted(values):
    return ", ".join(f"'{v}'" for v in values)


def _illegal_condition(old: str, new: str) -> str:
    allowed = " OR ".join(
        f"({old}.status = '{src}' AND {new}.status IN ({_quoted(dst)}))"
        for src, dst in FORWARD.items()
    )
    return (
        f"{old}.status IN ({_quoted(TERMINAL)}) "
        f"OR ({new}.status IS DISTINCT FROM {old}.status AND NOT ({allowed}))"
    )


PG_GUARD = f"""
CREATE OR REPLACE FUNCTION deployments_deployment_guard() RETURNS trigger AS $$
BEGIN
    IF ({", ".join("NEW." + c for c in FROZEN)}) IS DISTINCT FROM
       ({", ".join("OLD." + c for c in FROZEN)}) THEN
        RAISE EXCEPTION 'holdfast: a deployment record is immutable except for its status'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF {_illegal_condition("OLD", "NEW")} THEN
        RAISE EXCEPTION 'holdfast: deployment status cannot go from % to %', OLD.status, NEW.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [
            PG_FUNCTION,
            PG_GUARD,
            f'DROP TRIGGER IF EXISTS {TABLE}_guard ON "{TABLE}"',
            f'DROP TRIGGER IF EXISTS {TABLE}_no_delete ON "{TABLE}"',
            f'CREATE TRIGGER {TABLE}_guard BEFORE UPDATE ON "{TABLE}" '
            f"FOR EACH ROW EXECUTE FUNCTION deployments_deployment_guard()",
            f'CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON "{TABLE}" '
            f"FOR EACH ROW EXECUTE FUNCTION holdfast_refuse_change()",
        ]
    elif vendor == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
        illegal = _illegal_condition("OLD", "NEW").replace("IS DISTINCT FROM", "IS NOT")
        statements = [
            f"DROP TRIGGER IF EXISTS {TABLE}_guard",
            f"DROP TRIGGER IF EXISTS {TABLE}_no_delete",
            f'CREATE TRIGGER {TABLE}_guard BEFORE UPDATE ON "{TABLE}" '
            f"WHEN {changed} OR {illegal} BEGIN "
            f"SELECT RAISE(ABORT, 'holdfast: a deployment record is immutable except for a "
            f"forward status transition'); END",
            f'CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON "{TABLE}" '
            f"WHEN NOT EXISTS (SELECT 1 FROM governance_purgepermit) BEGIN "
            f"SELECT RAISE(ABORT, 'holdfast: DELETE on {TABLE} is refused: "
            f"deployment records are kept'); END",
        ]
    else:
        raise NotImplementedError(f"deployment guard triggers are not written for {vendor}")
    for sql in statements:
        schema_editor.execute(sql, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    suffix = f' ON "{TABLE}"' if vendor == "postgresql" else ""
    for name in (f"{TABLE}_guard", f"{TABLE}_no_delete"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{suffix}", params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0001_initial"),
        ("governance", "0002_immutable_auditevent"),
    ]
    operations = [
        immutable_tables(
            "deployments_historicalrepo",
            "deployments_historicalrun",
            "deployments_historicalrunstep",
            "deployments_historicalapproval",
            "deployments_historicalsandboxjob",
            "deployments_historicaldeployment",
            "deployments_historicalpreview",
            "deployments_historicalinfraresource",
            "deployments_artifact",
            "deployments_previewversion",
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
