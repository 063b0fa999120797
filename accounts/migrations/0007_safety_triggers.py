"""Database-enforced immutability for seed 002's identity and safety stores.

- identity events, the moderation log and the history tables of edges and risk profiles
  refuse UPDATE/DELETE (and TRUNCATE on PostgreSQL): governance.immutability;
- a user's identity fields (id, handle, created_at) refuse any change after creation;
- accounts_historicaluser gets its triggers again: on SQLite, 0006's new columns rebuilt
  the table, which drops triggers (idempotent on PostgreSQL).
"""

from django.db import migrations

from accounts.identity_triggers import identity_trigger_operation
from governance.immutability import immutable_tables


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_safety_social"), ("governance", "0001_initial")]
    operations = [
        immutable_tables(
            "accounts_identityevent",
            "accounts_moderationaction",
            "accounts_historicaledge",
            "accounts_historicalriskprofile",
            "accounts_historicaluser",
        ),
        identity_trigger_operation(),
    ]
