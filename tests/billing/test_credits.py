"""The AI-credit ledger: derived balance, idempotent spends, immutability, concurrency."""

import threading
from datetime import date

import pytest
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

from billing import selectors, services
from billing.models import AiUsage, CreditEntry, CreditKind
from common.exceptions import Conflict, ValidationFailed
from tests.factories import TeamFactory, WorkspaceFactory


@pytest.fixture
def team(db, entitle):
    team = TeamFactory()
    entitle(team, monthly_ai_credits=1_000)
    return team


def _entry(team, **kwargs):
    return CreditEntry.objects.create(team=team, **kwargs)


@pytest.mark.django_db
def test_balance_is_the_sum_of_entries(team):
    services.credits_grant(team=team, amount=100, idempotency_key="g")
    services.credits_spend(team=team, amount=30, idempotency_key="s")
    services.credits_record(
        team=team, kind=CreditKind.REFUND, amount=5, idempotency_key="r", note="bad answer"
    )
    services.credits_record(team=team, kind=CreditKind.ADJUSTMENT, amount=-25, idempotency_key="a")
    assert selectors.credit_balance(team=team) == 50
    assert sorted(CreditEntry.objects.values_list("amount", flat=True)) == [-30, -25, 5, 100]


@pytest.mark.django_db
def test_a_retried_spend_records_nothing_new(team):
    services.credits_grant(team=team, amount=100, idempotency_key="g")
    first = services.credits_spend(team=team, amount=30, idempotency_key="call-7")
    again = services.credits_spend(team=team, amount=30, idempotency_key="call-7")
    assert again.pk == first.pk
    assert CreditEntry.objects.filter(kind="usage").count() == 1
    assert selectors.credit_balance(team=team) == 70
    with pytest.raises(Conflict):
        services.credits_spend(team=team, amount=31, idempotency_key="call-7")


@pytest.mark.django_db
def test_keys_are_per_team(team, entitle):
    other = TeamFactory()
    entitle(other, monthly_ai_credits=10)
    services.credits_grant(team=team, amount=5, idempotency_key="same")
    services.credits_grant(team=other, amount=7, idempotency_key="same")
    assert selectors.credit_balance(team=team) == 5
    assert selectors.credit_balance(team=other) == 7


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "amount"),
    [("grant", -1), ("grant", 0), ("usage", 5), ("refund", -2), ("expiry", 3), ("adjustment", 0)],
)
def test_amount_sign_must_match_kind(team, kind, amount):
    with pytest.raises(ValidationFailed):
        services.credits_record(team=team, kind=kind, amount=amount, idempotency_key="k")
    with pytest.raises(IntegrityError), transaction.atomic():
        _entry(team, kind=kind, amount=amount, idempotency_key="k")


@pytest.mark.django_db
def test_expiry_cannot_take_the_balance_below_zero(team):
    services.credits_grant(team=team, amount=10, idempotency_key="g")
    with pytest.raises(ValidationFailed, match="below zero"):
        services.credits_record(team=team, kind="expiry", amount=-11, idempotency_key="e")
    assert selectors.credit_balance(team=team) == 10


@pytest.mark.django_db
def test_record_ai_call_spends_and_logs_in_one_go(team):
    workspace = WorkspaceFactory(team=team)
    services.credits_grant(team=team, amount=100, idempotency_key="g")
    kwargs = dict(
        team=team,
        workspace=workspace,
        model="claude-x",
        input_tokens=1200,
        output_tokens=300,
        cost_cents=7,
        duration_ms=850,
        idempotency_key="req-1",
    )
    usage, created = services.record_ai_call(**kwargs)
    again, created_again = services.record_ai_call(**kwargs)
    assert created and not created_again and again.pk == usage.pk
    assert usage.credits == 7 and usage.credit_entry.amount == -7
    assert usage.credit_entry.workspace_id == workspace.pk
    assert AiUsage.objects.count() == 1
    assert selectors.credit_balance(team=team) == 93


@pytest.mark.django_db
def test_record_ai_call_rejects_another_teams_workspace(team):
    services.credits_grant(team=team, amount=100, idempotency_key="g")
    with pytest.raises(ValidationFailed):
        services.record_ai_call(
            team=team,
            workspace=WorkspaceFactory(),
            model="m",
            input_tokens=1,
            output_tokens=1,
            cost_cents=1,
            duration_ms=1,
            idempotency_key="x",
        )
    assert not AiUsage.objects.exists()


@pytest.mark.django_db
def test_monthly_grant_is_idempotent(team):
    assert services.credits_grant_monthly_all(month=date(2026, 12, 1)) >= 1
    assert services.credits_grant_monthly_all(month=date(2026, 12, 1)) == 0
    entry = CreditEntry.objects.get(team=team)
    assert entry.idempotency_key == f"grant:{team.pk}:2026-12" and entry.amount == 1_000
    services.credits_grant_monthly(team=team, month=date(2027, 1, 15))
    assert selectors.credit_balance(team=team) == 2_000


@pytest.mark.django_db
def test_monthly_grant_beat_task(team):
    from billing.tasks import grant_monthly_credits

    grant_monthly_credits()
    grant_monthly_credits()
    assert CreditEntry.objects.filter(team=team, kind="grant").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["billing_creditentry", "billing_aiusage"])
def test_raw_update_and_delete_are_refused(team, table):
    services.credits_grant(team=team, amount=100, idempotency_key="g")
    services.record_ai_call(
        team=team,
        model="m",
        input_tokens=1,
        output_tokens=1,
        cost_cents=1,
        duration_ms=1,
        idempotency_key="c",
    )
    column = "amount" if table == "billing_creditentry" else "credits"
    for sql in (f"UPDATE {table} SET {column} = 999", f"DELETE FROM {table}"):  # noqa: S608
        with pytest.raises(DatabaseError, match="refused"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="refused"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush this test's FK checks
                cursor.execute(f"TRUNCATE {table} CASCADE")
    assert selectors.credit_balance(team=team) == 99


@pytest.mark.django_db
def test_orm_update_and_delete_are_refused(team):
    entry = services.credits_grant(team=team, amount=100, idempotency_key="g")
    with pytest.raises(DatabaseError), transaction.atomic():
        CreditEntry.objects.filter(pk=entry.pk).update(amount=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.delete()
    assert CreditEntry.objects.get(pk=entry.pk).amount == 100


def _run_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def worker(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_16_concurrent_spends_never_overdraw(postgres_only, entitle):
    team = TeamFactory()
    entitle(team, monthly_ai_credits=1_000)
    services.credits_grant(team=team, amount=100, idempotency_key="g")

    def spend(i):
        return services.credits_spend(team=team, amount=15, idempotency_key=f"spend-{i}")

    results, errors = _run_threads(16, spend)
    assert len(results) == 6  # 6 × 15 = 90 fits in 100; a 7th would overdraw
    assert len(errors) == 10 and all(isinstance(e, services.LimitReached) for e in errors)
    assert selectors.credit_balance(team=team) == 10
    assert CreditEntry.objects.filter(team=team, kind="usage").count() == 6


@pytest.mark.django_db(transaction=True)
def test_16_concurrent_retries_of_one_spend_record_one_entry(postgres_only, entitle):
    team = TeamFactory()
    entitle(team, monthly_ai_credits=1_000)
    services.credits_grant(team=team, amount=100, idempotency_key="g")

    def spend(i):
        return services.credits_spend(team=team, amount=15, idempotency_key="the-same-call").pk

    results, errors = _run_threads(16, spend)
    assert not errors and len(set(results)) == 1 and len(results) == 16
    assert selectors.credit_balance(team=team) == 85
