from django.db import migrations

from governance.immutability import immutable_tables


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_invitation"), ("governance", "0001_initial")]
    operations = [immutable_tables("accounts_historicalinvitation")]
