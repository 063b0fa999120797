"""Capability denials: `denied=True` marks a default capability revoked for one user.

On SQLite the new column rebuilds accounts_historicalcapability, which drops its
immutability triggers (0002): they are installed again (idempotent on PostgreSQL).
"""

from django.db import migrations, models

from governance.immutability import immutable_tables

HELP = "A denial: the user does not hold this default capability (revoked)."


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_safety_triggers"), ("governance", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="capability",
            name="denied",
            field=models.BooleanField(default=False, help_text=HELP),
        ),
        migrations.AddField(
            model_name="historicalcapability",
            name="denied",
            field=models.BooleanField(default=False, help_text=HELP),
        ),
        immutable_tables("accounts_historicalcapability"),
    ]
