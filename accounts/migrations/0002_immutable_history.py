from django.db import migrations

from governance.immutability import immutable_tables


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("governance", "0001_initial")]
    operations = [
        immutable_tables(
            "accounts_historicaluser",
            "accounts_historicalteam",
            "accounts_historicalmembership",
            "accounts_historicalcapability",
            "accounts_historicalapitoken",
        )
    ]
