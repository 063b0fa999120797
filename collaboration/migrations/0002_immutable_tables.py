"""Chat events and the history of comments and threads refuse UPDATE/DELETE/TRUNCATE."""

from django.db import migrations

from governance.immutability import immutable_tables


class Migration(migrations.Migration):
    dependencies = [
        ("collaboration", "0001_initial"),
        ("governance", "0002_immutable_auditevent"),
    ]
    operations = [
        immutable_tables(
            "collaboration_messageevent",
            "collaboration_historicalcomment",
            "collaboration_historicalthread",
        )
    ]
