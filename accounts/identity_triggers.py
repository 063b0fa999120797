"""The database trigger that keeps a user's identity fields fixed after creation.

Identity fields (seed 002 §1 "immutable identity fields after creation"): `id`, `handle`
and `created_at`. Email, display name, status, age layer and verification change through
services (the last three with identity events). Installed by accounts migration 0007 on
PostgreSQL and SQLite; `identity_trigger_installed()` lets a test and the check ask.
"""

from django.db import connection, migrations

TRIGGER = "accounts_user_identity_fixed"
FIELDS = ("id", "handle", "created_at")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION holdfast_user_identity_fixed() RETURNS trigger AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.handle IS DISTINCT FROM OLD.handle
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'holdfast: identity fields (id, handle, created_at) of a user never change'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def install_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            _PG_FUNCTION,
            f'DROP TRIGGER IF EXISTS {TRIGGER} ON "accounts_user"',
            f'CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON "accounts_user" '
            "FOR EACH ROW EXECUTE FUNCTION holdfast_user_identity_fixed()",
        ]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {TRIGGER}",
            f'CREATE TRIGGER {TRIGGER} BEFORE UPDATE OF id, handle, created_at ON "accounts_user" '
            "WHEN NEW.id IS NOT OLD.id OR NEW.handle IS NOT OLD.handle "
            "OR NEW.created_at IS NOT OLD.created_at BEGIN "
            "SELECT RAISE(ABORT, 'holdfast: identity fields (id, handle, created_at) of a user "
            "never change'); END",
        ]
    raise NotImplementedError(f"the identity trigger is not written for {vendor}")


def drop_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS {TRIGGER} ON "accounts_user"']
    return [f"DROP TRIGGER IF EXISTS {TRIGGER}"]


def identity_trigger_operation() -> migrations.RunPython:
    def forwards(apps, schema_editor):
        for sql in install_sql(schema_editor.connection.vendor):
            schema_editor.execute(sql, params=None)

    def backwards(apps, schema_editor):
        for sql in drop_sql(schema_editor.connection.vendor):
            schema_editor.execute(sql, params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)


def identity_trigger_installed(using=None) -> bool:
    conn = using or connection
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = %s", [TRIGGER])
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name = %s", [TRIGGER]
            )
        return cursor.fetchone()[0] == 1
