from django.db import migrations

from governance.immutability import immutable_tables


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0001_initial"), ("governance", "0001_initial")]
    operations = [immutable_tables("workspaces_historicalworkspace", "workspaces_historicalproject")]
