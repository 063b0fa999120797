from django.db import migrations

from governance.immutability import immutable_tables


class Migration(migrations.Migration):
    dependencies = [("deployments", "0004_repo_sync")]

    operations = [
        immutable_tables("deployments_historicalagentrun", "deployments_historicalexportjob")
    ]
