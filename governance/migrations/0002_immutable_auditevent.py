from django.db import migrations

from governance.immutability import immutable_tables


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]
    operations = [immutable_tables("governance_auditevent")]
