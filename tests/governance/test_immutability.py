"""History tables and AuditEvent refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) in SQL."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import DatabaseError, connection, transaction

from governance import registry
from governance.immutability import is_immutable
from governance.services import audit_record
from tests.factories import ProjectFactory, UserFactory

# Tables that the setup below fills; every one must refuse changes.
REQUIRED = {
    "governance_auditevent",
    "workspaces_historicalworkspace",
    "workspaces_historicalproject",
    "accounts_historicaluser",
    "accounts_historicalteam",
    "governance_historicalgroup",
    "governance_historicalgroup_permissions",
    "accounts_historicaluser_groups",
}


def immutable_tables() -> list[str]:
    return sorted(
        {e.model._meta.db_table for e in registry.model_entries() if e.append_only and e.immutable}
    )


@pytest.mark.django_db
def test_every_append_only_immutable_table_carries_the_triggers():
    tables = immutable_tables()
    assert REQUIRED <= set(tables)
    missing = [t for t in tables if not is_immutable(t)]
    assert missing == [], f"no immutable_tables() migration for {missing}"


@pytest.mark.django_db
def test_every_history_table_is_declared_immutable():
    from simple_history.models import HistoricalChanges

    for entry in registry.model_entries():
        model = entry.model
        if issubclass(model, HistoricalChanges) or entry.key.split(".")[1].startswith("Historical"):
            assert entry.append_only and entry.immutable, entry.key


@pytest.fixture
def filled(db):
    actor = UserFactory()
    project = ProjectFactory()
    audit_record(action="backup", summary="test backup", actor=actor, workspace=project.workspace)
    group = Group.objects.create(name="ops")
    group.permissions.add(Permission.objects.first())
    actor.groups.add(group)
    counts = {}
    with connection.cursor() as cursor:
        for table in immutable_tables():
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    assert all(counts[t] > 0 for t in REQUIRED), counts
    return counts


def _refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as excinfo:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    return str(excinfo.value)


def _pk_column(table: str) -> str:
    for entry in registry.model_entries():
        if entry.model._meta.db_table == table:
            return entry.model._meta.pk.column
    raise LookupError(table)


def test_raw_update_and_delete_are_refused_on_every_filled_immutable_table(filled):
    tested = set()
    for table, count in filled.items():
        if count == 0:
            continue
        pk = _pk_column(table)
        assert "holdfast" in _refused(f'UPDATE "{table}" SET "{pk}" = "{pk}"')  # noqa: S608
        assert "holdfast" in _refused(f'DELETE FROM "{table}"')  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608
            assert cursor.fetchone()[0] == count, table
        tested.add(table)
    assert REQUIRED <= tested


def test_orm_update_of_an_audit_event_is_refused(filled):
    from governance.models import AuditEvent

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.update(summary="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().summary == "test backup"


@pytest.mark.usefixtures("postgres_only")
@pytest.mark.parametrize("table", ["governance_auditevent", "workspaces_historicalproject"])
def test_truncate_is_refused_on_postgresql(filled, table):
    with connection.cursor() as cursor:
        # Fire the deferred FK checks of the setup rows now, or TRUNCATE fails for that reason.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert "holdfast" in _refused(f'TRUNCATE "{table}"')
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608
        assert cursor.fetchone()[0] == filled[table]
