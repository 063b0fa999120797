"""Accounts' database check: the identity trigger is installed (a SQLite table rebuild in a
later migration would silently drop it; this makes `manage.py check --database` fail)."""

from django.core.checks import Error
from django.db import connections


def identity_trigger_rules(app_configs=None, databases=None, **kwargs):
    from django.db.migrations.recorder import MigrationRecorder
    from django.db.utils import DatabaseError

    from .identity_triggers import identity_trigger_installed

    errors = []
    for alias in databases or []:
        conn = connections[alias]
        try:
            applied = MigrationRecorder(conn).migration_qs.filter(
                app="accounts", name="0007_safety_triggers"
            )
            if not MigrationRecorder(conn).has_table() or not applied.exists():
                continue  # before migrate: the migration will install it
            installed = identity_trigger_installed(using=conn)
        except DatabaseError:
            continue
        if not installed:
            errors.append(
                Error(
                    "accounts_user has no identity trigger: handles could be changed in SQL.",
                    hint="Re-run accounts.identity_triggers.install_sql() in a migration after "
                    "any migration that rebuilds accounts_user on SQLite.",
                    id="holdfast.E101",
                )
            )
    return errors
