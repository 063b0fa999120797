"""Ledger, AI usage and history tables refuse UPDATE/DELETE; the default plans are seeded."""

from django.db import migrations

from governance.immutability import immutable_tables

# A copy, not an import: a migration keeps the values it shipped with.
PLANS = {
    "free": {
        "name": "Free",
        "is_default": True,
        "seats": 10,
        "workspaces": 5,
        "projects_per_workspace": 25,
        "monthly_ai_credits": 1_000,
        "deploys_per_day": 50,
        "storage_bytes": 1 * 1024**3,
    },
    "team": {
        "name": "Team",
        "is_default": False,
        "seats": 50,
        "workspaces": 25,
        "projects_per_workspace": 200,
        "monthly_ai_credits": 20_000,
        "deploys_per_day": 500,
        "storage_bytes": 100 * 1024**3,
    },
    "enterprise": {
        "name": "Enterprise",
        "is_default": False,
        "seats": None,
        "workspaces": None,
        "projects_per_workspace": None,
        "monthly_ai_credits": 250_000,
        "deploys_per_day": None,
        "storage_bytes": None,
    },
}


def seed_plans(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    HistoricalPlan = apps.get_model("billing", "HistoricalPlan")
    for code, spec in PLANS.items():
        if Plan.objects.filter(code=code).exists():
            continue
        plan = Plan.objects.create(code=code, **spec)
        # Migrations do not send simple-history's signals: write the first history row here.
        HistoricalPlan.objects.create(
            id=plan.id,
            created_at=plan.created_at,
            updated_at=plan.updated_at,
            code=code,
            history_date=plan.created_at,
            history_type="+",
            history_change_reason="seeded by migration",
            **spec,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("governance", "0002_immutable_auditevent"),
    ]

    operations = [
        immutable_tables(
            "billing_creditentry",
            "billing_aiusage",
            "billing_historicalplan",
            "billing_historicalentitlement",
        ),
        migrations.RunPython(seed_plans, migrations.RunPython.noop),
    ]
