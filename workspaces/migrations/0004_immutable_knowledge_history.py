from django.db import migrations

from governance.immutability import immutable_tables


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0003_project_files_skills_owner")]
    operations = [
        immutable_tables("workspaces_historicalprojectfile", "workspaces_historicalprojectskill")
    ]
