"""Database-level immutability: triggers that refuse UPDATE and DELETE (and TRUNCATE).

Installed by migrations with `immutable_tables(...)`, on PostgreSQL and SQLite.
The one sanctioned way past them is `allow_purge()`, used only by the purge
service inside its transaction after it has recorded an AuditEvent.
"""

from contextlib import contextmanager

from django.db import connection, migrations

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION holdfast_refuse_change() RETURNS trigger AS $$
BEGIN
    IF current_setting('holdfast.purge', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    END IF;
    -- Only the test suite's between-test flush sets this (tests/conftest.py).
    IF TG_OP = 'TRUNCATE' AND current_setting('holdfast.test_flush', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'holdfast: % on % is refused: this table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _trigger_names(table: str) -> list[str]:
    return [f"{table}_no_update", f"{table}_no_delete", f"{table}_no_truncate"]


def install_sql(vendor: str, table: str) -> list[str]:
    upd, dele, trunc = _trigger_names(table)
    if vendor == "postgresql":
        return [
            PG_FUNCTION,
            f'DROP TRIGGER IF EXISTS {upd} ON "{table}"',
            f'DROP TRIGGER IF EXISTS {dele} ON "{table}"',
            f'DROP TRIGGER IF EXISTS {trunc} ON "{table}"',
            f'CREATE TRIGGER {upd} BEFORE UPDATE ON "{table}" '
            f"FOR EACH ROW EXECUTE FUNCTION holdfast_refuse_change()",
            f'CREATE TRIGGER {dele} BEFORE DELETE ON "{table}" '  # noqa: S608
            f"FOR EACH ROW EXECUTE FUNCTION holdfast_refuse_change()",
            f'CREATE TRIGGER {trunc} BEFORE TRUNCATE ON "{table}" '
            f"FOR EACH STATEMENT EXECUTE FUNCTION holdfast_refuse_change()",
        ]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {upd}",
            f"DROP TRIGGER IF EXISTS {dele}",
            f'CREATE TRIGGER {upd} BEFORE UPDATE ON "{table}" BEGIN '
            f"SELECT RAISE(ABORT, 'holdfast: UPDATE on {table} is refused: "
            f"this table is append-only'); END",
            f'CREATE TRIGGER {dele} BEFORE DELETE ON "{table}" '  # noqa: S608
            f"WHEN NOT EXISTS (SELECT 1 FROM governance_purgepermit) BEGIN "
            f"SELECT RAISE(ABORT, 'holdfast: DELETE on {table} is refused: "
            f"this table is append-only'); END",
        ]
    raise NotImplementedError(f"immutability triggers are not written for {vendor}")


def drop_sql(vendor: str, table: str) -> list[str]:
    upd, dele, trunc = _trigger_names(table)
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS {name} ON "{table}"' for name in (upd, dele, trunc)]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in (upd, dele)]


def immutable_tables(*tables: str) -> migrations.RunPython:
    """A migration operation that makes each table refuse UPDATE/DELETE/TRUNCATE."""

    def forwards(apps, schema_editor):
        for table in tables:
            for sql in install_sql(schema_editor.connection.vendor, table):
                schema_editor.execute(sql, params=None)

    def backwards(apps, schema_editor):
        for table in tables:
            for sql in drop_sql(schema_editor.connection.vendor, table):
                schema_editor.execute(sql, params=None)

    return migrations.RunPython(forwards, backwards, elidable=False)


def is_immutable(table: str, using=None) -> bool:
    """True when the table carries the triggers (the system checks and the admin ask)."""
    conn = using or connection
    upd, dele, _ = _trigger_names(table)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname IN (%s, %s) AND NOT tgisinternal",
                [upd, dele],
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name IN (%s, %s)",
                [upd, dele],
            )
        return cursor.fetchone()[0] == 2


@contextmanager
def allow_purge():
    """Let DELETE through the triggers for the rest of the current transaction only.

    Must run inside `transaction.atomic()`; the permit dies with the transaction.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("allow_purge() must run inside a transaction")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('holdfast.purge', 'on', true)")
        else:
            cursor.execute("INSERT INTO governance_purgepermit (granted) VALUES (1)")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('holdfast.purge', 'off', true)")
            else:
                cursor.execute("DELETE FROM governance_purgepermit")
