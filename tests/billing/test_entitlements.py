"""Entitlements: one current at a time, history and an audit event for each change, admin."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing import selectors, services
from billing.models import CreditEntry, Entitlement, Plan
from common.exceptions import ValidationFailed
from governance.models import AuditEvent
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plans():
    """The seeded plans; recreated when a transactional test elsewhere flushed them."""
    services.plan_ensure_defaults()


@pytest.fixture
def ops():
    return UserFactory(is_staff=True, is_superuser=True)


def test_granting_supersedes_the_open_entitlement_and_audits(ops):
    team = TeamFactory()
    team_plan, enterprise = Plan.objects.get(code="team"), Plan.objects.get(code="enterprise")
    first = services.entitlement_grant(team=team, plan=team_plan, actor=ops, note="trial")
    second = services.entitlement_grant(
        team=team, plan=enterprise, actor=ops, overrides={"seats": 500}, source="external"
    )
    first.refresh_from_db()
    assert first.valid_to == second.valid_from
    terms = selectors.team_terms(team=team)
    assert terms.entitlement == second and terms.limits["seats"] == 500
    assert terms.limits["workspaces"] is None
    events = AuditEvent.objects.filter(action="entitlement", target_id=str(second.pk))
    assert events.count() == 1 and events.get().actor == ops
    assert second.history.first().history_user == ops


def test_a_future_entitlement_applies_only_from_its_start(ops):
    team = TeamFactory()
    later = timezone.now() + timedelta(days=3)
    services.entitlement_grant(
        team=team, plan=Plan.objects.get(code="team"), actor=ops, valid_from=later
    )
    assert selectors.team_terms(team=team).plan.code == "free"
    assert selectors.team_terms(team=team, at=later + timedelta(seconds=1)).plan.code == "team"


def test_ending_an_entitlement_falls_back_to_the_default(ops):
    team = TeamFactory()
    entitlement = services.entitlement_grant(
        team=team, plan=Plan.objects.get(code="team"), actor=ops
    )
    services.entitlement_end(entitlement=entitlement, actor=ops)
    assert selectors.team_terms(team=team).plan.code == "free"
    assert Entitlement.objects.filter(pk=entitlement.pk).exists()  # ended, not deleted
    assert AuditEvent.objects.filter(action="entitlement").count() == 2


@pytest.mark.parametrize(
    "overrides", [{"seat": 3}, {"seats": -1}, {"seats": "10"}, {"seats": True}, ["seats"]]
)
def test_bad_overrides_are_refused(ops, overrides):
    with pytest.raises(ValidationFailed):
        services.entitlement_grant(
            team=TeamFactory(), plan=Plan.objects.get(code="team"), actor=ops, overrides=overrides
        )
    assert not Entitlement.objects.exists()


def test_the_migration_seeds_the_default_plans_with_history():
    from importlib import import_module

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    name = "0002_immutable_ledger_and_default_plans"
    migration = import_module(f"billing.migrations.{name}")
    apps = MigrationExecutor(connection).loader.project_state(("billing", name)).apps
    Plan.objects.all().delete()
    migration.seed_plans(apps, None)
    migration.seed_plans(apps, None)  # idempotent
    assert set(Plan.objects.values_list("code", flat=True)) == {"free", "team", "enterprise"}
    assert Plan.objects.get(is_default=True).code == "free"
    assert Plan.objects.get(code="free").history.count() == 1
    assert Plan.objects.get(code="free").seats == selectors.builtin_default_plan().seats


def test_history_rows_are_immutable(ops):
    from django.db import DatabaseError, connection, transaction

    services.entitlement_grant(team=TeamFactory(), plan=Plan.objects.get(code="team"), actor=ops)
    for table in ("billing_historicalplan", "billing_historicalentitlement"):
        with pytest.raises(DatabaseError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET history_change_reason = 'x'")  # noqa: S608


def _admin(ops):
    client = Client()
    client.force_login(ops)
    return client


def test_admin_grants_an_entitlement_through_the_service(ops):
    team = TeamFactory()
    plan = Plan.objects.get(code="team")
    response = _admin(ops).post(
        "/admin/billing/entitlement/add/",
        {
            "team": str(team.pk),
            "plan": str(plan.pk),
            "overrides": '{"deploys_per_day": 5}',
            "valid_from_0": timezone.now().strftime("%Y-%m-%d"),
            "valid_from_1": timezone.now().strftime("%H:%M:%S"),
            "source": "manual",
            "note": "paid by invoice 17",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entitlement = Entitlement.objects.get(team=team)
    assert entitlement.created_by == ops and entitlement.overrides == {"deploys_per_day": 5}
    assert AuditEvent.objects.filter(action="entitlement", target_id=str(entitlement.pk)).exists()


def test_admin_refuses_bad_overrides(ops):
    team = TeamFactory()
    response = _admin(ops).post(
        "/admin/billing/entitlement/add/",
        {
            "team": str(team.pk),
            "plan": str(Plan.objects.get(code="team").pk),
            "overrides": '{"sets": 5}',
            "valid_from_0": "2026-12-01",
            "valid_from_1": "00:00:00",
            "source": "manual",
        },
    )
    assert response.status_code == 200 and b"Unknown limit" in response.content
    assert not Entitlement.objects.exists()


def test_admin_grants_credits_through_the_ledger_form(ops):
    team = TeamFactory()
    client = _admin(ops)
    form = {"team": str(team.pk), "kind": "grant", "amount": "250", "note": "goodwill"}
    form["idempotency_key"] = "ticket-9"
    assert client.post("/admin/billing/creditentry/add/", form).status_code == 302
    assert client.post("/admin/billing/creditentry/add/", form).status_code == 302  # a retry
    entry = CreditEntry.objects.get(team=team)
    assert entry.amount == 250 and entry.created_by_id == ops.pk
    refused = client.post(
        "/admin/billing/creditentry/add/", {**form, "kind": "usage", "amount": "-5"}
    )
    assert refused.status_code == 200 and CreditEntry.objects.count() == 1
    overdraw = client.post(
        "/admin/billing/creditentry/add/",
        {**form, "kind": "expiry", "amount": "-999", "idempotency_key": "exp"},
    )
    assert overdraw.status_code == 200 and b"below zero" in overdraw.content
    assert client.get(f"/admin/billing/creditentry/{entry.pk}/change/").status_code == 200


def test_admin_pages_render(ops):
    client = _admin(ops)
    team = TeamFactory()
    entitlement = services.entitlement_grant(
        team=team, plan=Plan.objects.get(code="team"), actor=ops
    )
    services.credits_grant(team=team, amount=5, idempotency_key="g")
    for model in ("plan", "entitlement", "creditentry", "aiusage", "kpidaily"):
        for params in ({}, {"q": "x"}):
            url = f"/admin/billing/{model}/"
            assert client.get(url, params).status_code == 200, url
    assert client.get(f"/admin/billing/entitlement/{entitlement.pk}/history/").status_code == 200
    plan = Plan.objects.get(code="free")
    assert client.get(f"/admin/billing/plan/{plan.pk}/history/").status_code == 200


def test_admin_changes_a_plan_with_an_audit_event(ops):
    plan = Plan.objects.get(code="team")
    data = {
        "code": "team",
        "name": "Team",
        "seats": "60",
        "workspaces": "25",
        "projects_per_workspace": "200",
        "monthly_ai_credits": "20000",
        "deploys_per_day": "500",
        "storage_bytes": str(100 * 1024**3),
    }
    response = _admin(ops).post(f"/admin/billing/plan/{plan.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    plan.refresh_from_db()
    assert plan.seats == 60 and plan.history.first().history_user == ops
    assert AuditEvent.objects.filter(action="entitlement", target_id=str(plan.pk)).exists()
