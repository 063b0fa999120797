"""The AI-credit ledger (append-only, idempotent by key) and AI usage rows."""

from __future__ import annotations

import math
from datetime import date

from django.db import transaction
from django.utils import timezone

from accounts.models import Team
from common.exceptions import Conflict, ValidationFailed
from workspaces.models import Workspace

from .. import selectors
from ..models import NEGATIVE_KINDS, POSITIVE_KINDS, AiUsage, CreditEntry, CreditKind, LimitName
from ._shared import IDEMPOTENCY_KEY_MAX, lock_team
from .entitlements import entitlement_enforce


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationFailed(
            f"An idempotency key is 1-{IDEMPOTENCY_KEY_MAX} characters.", field="idempotency_key"
        )
    return key


def _check_scope(team: Team, workspace: Workspace | None, run) -> None:
    if workspace is not None and workspace.team_id != team.pk:
        raise ValidationFailed("The workspace belongs to another team.", field="workspace")
    if run is not None:
        run_ws = run.project.workspace_id
        if (workspace is not None and run_ws != workspace.pk) or (
            workspace is None and run.project.workspace.team_id != team.pk
        ):
            raise ValidationFailed("The run belongs to another workspace.", field="run")


@transaction.atomic
def credits_record(
    *,
    team: Team,
    kind: str,
    amount: int,
    idempotency_key: str,
    actor=None,
    workspace: Workspace | None = None,
    run=None,
    note: str = "",
) -> tuple[CreditEntry, bool]:
    """Append one ledger entry; `amount` is signed as stored (usage and expiry negative).

    A retry with the same key returns the first entry and records nothing (a different
    kind or amount under the same key is a 409). Nothing takes the balance below zero.
    """
    try:
        kind = CreditKind(kind)
    except ValueError:
        raise ValidationFailed("Unknown credit entry kind.", field="kind") from None
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationFailed("The amount is a whole number of credits.", field="amount")
    if (
        (kind in POSITIVE_KINDS and amount <= 0)
        or (kind in NEGATIVE_KINDS and amount >= 0)
        or amount == 0
    ):
        raise ValidationFailed(
            "Grants and refunds add credits (amount > 0); usage and expiry remove them "
            "(amount < 0); an adjustment is any non-zero amount.",
            field="amount",
        )
    key = _check_key(idempotency_key)
    _check_scope(team, workspace, run)
    lock_team(team)
    existing = CreditEntry.objects.filter(team=team, idempotency_key=key).first()
    if existing is not None:
        if existing.kind != kind or existing.amount != amount:
            raise Conflict(
                "This idempotency key was already used for a different credit entry.",
                field="idempotency_key",
            )
        return existing, False
    if amount < 0:
        if kind == CreditKind.USAGE:
            entitlement_enforce(limit=LimitName.MONTHLY_AI_CREDITS, team=team, amount=-amount)
        else:
            balance = selectors.credit_balance(team=team)
            if balance + amount < 0:
                raise ValidationFailed(
                    f"This would take the balance ({balance}) below zero.", field="amount"
                )
    entry = CreditEntry.objects.create(
        team=team,
        kind=kind,
        amount=amount,
        workspace=workspace,
        run=run,
        idempotency_key=key,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        note=note[:500],
    )
    return entry, True


def credits_spend(
    *, team: Team, amount: int, idempotency_key: str, actor=None, workspace=None, run=None, note=""
) -> CreditEntry:
    """Spend `amount` (> 0) credits atomically; 402 when the balance is short. A retried
    spend with the same key returns the first entry."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed("Spend a whole number of credits above zero.", field="amount")
    entry, _ = credits_record(
        team=team,
        kind=CreditKind.USAGE,
        amount=-amount,
        idempotency_key=idempotency_key,
        actor=actor,
        workspace=workspace,
        run=run,
        note=note,
    )
    return entry


def credits_grant(
    *, team: Team, amount: int, idempotency_key: str, actor=None, note: str = ""
) -> CreditEntry:
    entry, _ = credits_record(
        team=team,
        kind=CreditKind.GRANT,
        amount=amount,
        idempotency_key=idempotency_key,
        actor=actor,
        note=note,
    )
    return entry


def monthly_grant_key(team: Team, month: date) -> str:
    return f"grant:{team.pk}:{month:%Y-%m}"


@transaction.atomic
def credits_grant_monthly(
    *, team: Team, month: date | None = None
) -> tuple[CreditEntry | None, bool]:
    """Grant the plan's monthly AI credits for `month` once (keyed grant:{team}:{yyyy-mm}).
    Returns (entry, created); (None, False) when the plan grants none."""
    month = (month or timezone.now().date()).replace(day=1)
    amount = selectors.team_terms(team=team).limits[LimitName.MONTHLY_AI_CREDITS]
    if not amount:
        return None, False
    return credits_record(
        team=team,
        kind=CreditKind.GRANT,
        amount=amount,
        idempotency_key=monthly_grant_key(team, month),
        note=f"monthly AI credits for {month:%Y-%m}",
    )


def credits_grant_monthly_all(*, month: date | None = None) -> int:
    """The beat job: every team's monthly grant; safe to run any number of times."""
    created = 0
    for team in Team.objects.order_by("pk").iterator():
        _, new = credits_grant_monthly(team=team, month=month)
        created += int(new)
    return created


def credits_for_cost(cost_cents: int) -> int:
    """One credit per cent of provider cost, at least one per call."""
    return max(1, math.ceil(cost_cents))


@transaction.atomic
def record_ai_call(
    *,
    team: Team,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_cents: int,
    duration_ms: int,
    idempotency_key: str,
    actor=None,
    workspace: Workspace | None = None,
    run=None,
    credits: int | None = None,
) -> tuple[AiUsage, bool]:
    """Spend the call's credits and write its usage row in one transaction (402 and nothing
    written when the balance is short). A retry with the same key returns the first row."""
    key = _check_key(idempotency_key)
    if not model or len(model) > 100:
        raise ValidationFailed("Name the model (up to 100 characters).", field="model")
    for name, value in (
        ("input_tokens", input_tokens),
        ("output_tokens", output_tokens),
        ("cost_cents", cost_cents),
        ("duration_ms", duration_ms),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationFailed(f"{name} is a whole number ≥ 0.", field=name)
    lock_team(team)
    existing = AiUsage.objects.filter(team=team, idempotency_key=key).first()
    if existing is not None:
        return existing, False
    credits = credits_for_cost(cost_cents) if credits is None else credits
    entry = credits_spend(
        team=team,
        amount=credits,
        idempotency_key=f"ai:{key}",
        actor=actor,
        workspace=workspace,
        run=run,
        note=f"{model}: {input_tokens}+{output_tokens} tokens",
    )
    usage = AiUsage.objects.create(
        team=team,
        workspace=workspace,
        run=run,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_cents=cost_cents,
        duration_ms=duration_ms,
        credits=credits,
        credit_entry=entry,
        idempotency_key=key,
        created_by=entry.created_by,
    )
    return usage, True
