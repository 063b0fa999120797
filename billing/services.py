"""Billing writes: plans and entitlements, limit enforcement, the AI-credit ledger,
AI usage, KPI events and their rollup, outcome priors, request-log pruning.

`entitlement_enforce` is the one place that decides whether a team may have one more
of something; the workspace, project, membership, deployment, artifact and credit
services all ask it inside their own transaction, after it has locked the team row.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import Team
from common.exceptions import Conflict, PaymentRequired, ValidationFailed
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Workspace

from . import selectors, stores
from .models import (
    DEFAULT_PLANS,
    LIMIT_NAMES,
    NEGATIVE_KINDS,
    POSITIVE_KINDS,
    AiUsage,
    CreditEntry,
    CreditKind,
    Entitlement,
    EntitlementSource,
    KpiDaily,
    KpiKind,
    LimitName,
    Plan,
)

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX = 200
KPI_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
KPI_VARIANT = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")
KPI_PROPERTIES_MAX_BYTES = 2048
LIMIT_PHRASES = {
    LimitName.SEATS: "seats",
    LimitName.WORKSPACES: "workspaces",
    LimitName.PROJECTS_PER_WORKSPACE: "projects per workspace",
    LimitName.DEPLOYS_PER_DAY: "deployments per UTC day",
    LimitName.STORAGE_BYTES: "bytes of artifact storage",
}


class LimitReached(PaymentRequired):
    """Over a plan limit: 402, with the limit's name, the allowance and the current use."""

    def __init__(self, message: str, *, limit: str, allowed: int | None, used: int):
        super().__init__(message, code="limit_reached")
        self.limit, self.allowed, self.used = limit, allowed, used

    def as_response_data(self) -> dict:
        return {
            "detail": self.message,
            "code": self.code,
            "limit": self.limit,
            "allowed": self.allowed,
            "used": self.used,
        }


def _lock_team(team: Team) -> None:
    """Serialise a team's limit checks and ledger writes (row lock on PostgreSQL; on SQLite
    every write transaction is BEGIN IMMEDIATE, which serialises writers already)."""
    Team.objects.select_for_update().filter(pk=team.pk).values_list("pk", flat=True).first()


def _save(obj, actor, reason: str, **kwargs) -> None:
    obj._history_user = actor
    obj._change_reason = reason
    obj.full_clean()
    obj.save(**kwargs)


# --- plans and entitlements --------------------------------------------------------------


def validate_overrides(overrides) -> dict:
    """Overrides map limit names to a non-negative whole number or null (unlimited)."""
    if overrides in (None, ""):
        return {}
    if not isinstance(overrides, dict):
        raise ValidationFailed("Overrides are a JSON object of limit → value.", field="overrides")
    clean = {}
    for name, value in overrides.items():
        if name not in LIMIT_NAMES:
            raise ValidationFailed(
                f"Unknown limit {name!r}; limits are {', '.join(LIMIT_NAMES)}.", field="overrides"
            )
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ValidationFailed(
                f"The override of {name} must be a whole number ≥ 0, or null for unlimited.",
                field="overrides",
            )
        clean[name] = value
    return clean


@transaction.atomic
def plan_save(*, plan: Plan, actor, reason: str = "") -> Plan:
    """Create or change a plan (the admin calls this); audited as an entitlement change."""
    creating = plan._state.adding
    if plan.is_default:
        for other in Plan.objects.filter(is_default=True).exclude(pk=plan.pk):
            other.is_default = False
            _save(other, actor, f"default moved to {plan.code}", update_fields=["is_default"])
    _save(plan, actor, reason or ("plan created" if creating else "plan changed"))
    audit_record(
        action=AuditAction.ENTITLEMENT,
        summary=f"Plan {plan.code} {'created' if creating else 'changed'}",
        actor=actor,
        target=plan,
        data={"plan": plan.code, "limits": plan.limits(), "is_default": plan.is_default},
    )
    return plan


@transaction.atomic
def plan_ensure_defaults(*, actor=None) -> list[Plan]:
    """Create the built-in plans (free, team, enterprise) that are missing; idempotent."""
    created = []
    for code, spec in DEFAULT_PLANS.items():
        if Plan.objects.filter(code=code).exists():
            continue
        spec = dict(spec)
        if spec["is_default"] and Plan.objects.filter(is_default=True).exists():
            spec["is_default"] = False
        created.append(plan_save(plan=Plan(code=code, **spec), actor=actor, reason="built-in"))
    return created


def _entitlement_data(e: Entitlement) -> dict:
    return {
        "team": str(e.team_id),
        "plan": e.plan.code,
        "overrides": e.overrides,
        "valid_from": e.valid_from.isoformat(),
        "valid_to": e.valid_to.isoformat() if e.valid_to else None,
        "source": e.source,
        "external_ref": e.external_ref,
    }


@transaction.atomic
def entitlement_grant(
    *,
    team: Team,
    plan: Plan,
    actor,
    overrides: dict | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    source: str = EntitlementSource.MANUAL,
    external_ref: str = "",
    note: str = "",
) -> Entitlement:
    """Give a team a plan from `valid_from` (default now). An open-ended entitlement that is
    current at that moment ends there, so exactly one applies at any time."""
    _lock_team(team)
    valid_from = valid_from or timezone.now()
    if valid_to is not None and valid_to <= valid_from:
        raise ValidationFailed("An entitlement must end after it starts.", field="valid_to")
    if source not in EntitlementSource.values:
        raise ValidationFailed("Source is manual or external.", field="source")
    previous = selectors.current_entitlement(team=team, at=valid_from)
    if previous is not None and previous.valid_to is None and previous.valid_from < valid_from:
        previous.valid_to = valid_from
        _save(previous, actor, "superseded", update_fields=["valid_to", "updated_at"])
    entitlement = Entitlement(
        team=team,
        plan=plan,
        overrides=validate_overrides(overrides),
        valid_from=valid_from,
        valid_to=valid_to,
        source=source,
        external_ref=external_ref,
        note=note,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _save(entitlement, actor, note or f"granted plan {plan.code}")
    audit_record(
        action=AuditAction.ENTITLEMENT,
        summary=f"Team {team.slug} granted plan {plan.code}",
        actor=actor,
        target=entitlement,
        data={
            **_entitlement_data(entitlement),
            "superseded": str(previous.pk) if previous else None,
        },
    )
    return entitlement


ENTITLEMENT_EDITABLE = (
    "plan",
    "overrides",
    "valid_from",
    "valid_to",
    "source",
    "external_ref",
    "note",
)


@transaction.atomic
def entitlement_update(*, entitlement: Entitlement, actor, **fields) -> Entitlement:
    """Change an entitlement (plan, overrides, period, note); history and audit record it."""
    unknown = set(fields) - set(ENTITLEMENT_EDITABLE)
    if unknown:
        raise ValidationFailed(f"Cannot change {', '.join(sorted(unknown))}.")
    _lock_team(entitlement.team)
    if "overrides" in fields:
        fields["overrides"] = validate_overrides(fields["overrides"])
    before = _entitlement_data(entitlement)
    changed = [name for name, value in fields.items() if getattr(entitlement, name) != value]
    for name in changed:
        setattr(entitlement, name, fields[name])
    if not changed:
        return entitlement
    if entitlement.valid_to is not None and entitlement.valid_to <= entitlement.valid_from:
        raise ValidationFailed("An entitlement must end after it starts.", field="valid_to")
    _save(
        entitlement,
        actor,
        fields.get("note") or f"changed {', '.join(changed)}",
        update_fields=[*changed, "updated_at"],
    )
    audit_record(
        action=AuditAction.ENTITLEMENT,
        summary=f"Entitlement of team {entitlement.team.slug} changed: {', '.join(changed)}",
        actor=actor,
        target=entitlement,
        data={"before": before, "after": _entitlement_data(entitlement)},
    )
    return entitlement


def entitlement_end(*, entitlement: Entitlement, actor, at: datetime | None = None) -> Entitlement:
    """End an entitlement (entitlements are ended, never deleted); the default plan follows."""
    at = at or timezone.now()
    if at <= entitlement.valid_from:
        at = entitlement.valid_from + timedelta(microseconds=1)
    return entitlement_update(entitlement=entitlement, actor=actor, valid_to=at)


# --- enforcement ------------------------------------------------------------------------------


def entitlement_enforce(
    *,
    limit: str,
    team: Team,
    amount: int = 1,
    workspace: Workspace | None = None,
    project=None,
    **context,
) -> None:
    """Refuse (402, naming the limit) when `amount` more of `limit` would exceed the team's
    plan. Call inside the transaction that then writes: the team row stays locked until it
    commits, so two concurrent creations cannot both take the last slot."""
    if limit not in LIMIT_NAMES:
        raise ValueError(f"unknown limit {limit!r}")
    if workspace is None and project is not None:
        workspace = project.workspace
    _lock_team(team)
    terms = selectors.team_terms(team=team)
    allowed = terms.limits[limit]
    plan = terms.plan.name
    if limit == LimitName.MONTHLY_AI_CREDITS:
        if allowed is None:
            return  # unlimited AI: usage is recorded (and invoiced), never refused
        balance = selectors.credit_balance(team=team)
        if balance < amount:
            raise LimitReached(
                f"Not enough AI credits: this needs {amount} and the balance is {balance} "
                f"(limit monthly_ai_credits: the {plan} plan grants {allowed} a month).",
                limit=limit,
                allowed=allowed,
                used=selectors.limit_usage(team=team, limit=limit),
            )
        return
    if allowed is None:
        return
    used = selectors.limit_usage(team=team, limit=limit, workspace=workspace)
    if used + amount > allowed:
        where = f" in workspace {workspace.slug}" if limit == "projects_per_workspace" else ""
        raise LimitReached(
            f"The {plan} plan allows {allowed} {LIMIT_PHRASES[limit]} "
            f"(limit {limit}); this team uses {used}{where}.",
            limit=limit,
            allowed=allowed,
            used=used,
        )


# --- the AI-credit ledger ------------------------------------------------------------------


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
    _lock_team(team)
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
    _lock_team(team)
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


# --- KPI events (semi-critical, append-only files) ----------------------------------------


def kpi_record(
    *,
    workspace: Workspace,
    event: str,
    kind: str = KpiKind.VIEW,
    variant: str = "",
    value: float | None = None,
    properties: dict | None = None,
    actor=None,
    ts: datetime | None = None,
    idempotency_key: str = "",
) -> dict:
    """Append one KPI event to today's `.cache/kpi/` file. No database write, so it is cheap
    and never waits on the database.

    With an `idempotency_key`, a retry within a day returns the first event (with
    `duplicate: True`) and appends nothing; the key is remembered in the cache.
    """
    if not isinstance(event, str) or not KPI_NAME.match(event):
        raise ValidationFailed(
            "An event name is 1-100 letters, digits, '_', '.', ':' or '-'.", field="event"
        )
    if kind not in KpiKind.values:
        raise ValidationFailed("Kind is view, conversion or custom.", field="kind")
    if not isinstance(variant, str) or not KPI_VARIANT.match(variant):
        raise ValidationFailed(
            "A variant is up to 64 letters, digits, '_', '.', ':' or '-'.", field="variant"
        )
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        raise ValidationFailed("The value is a finite number.", field="value")
    row = {
        "ts": (ts or timezone.now()).isoformat(),
        "workspace_id": str(workspace.pk),
        "workspace": workspace.slug,
        "event": event,
        "kind": str(kind),
        "variant": variant,
        "value": value,
        "user_id": str(actor.pk) if getattr(actor, "is_authenticated", False) else None,
    }
    if properties:
        row["properties"] = properties
        if len(stores._json_line(row)) > KPI_PROPERTIES_MAX_BYTES + 512:
            raise ValidationFailed("Properties are at most 2 KB of JSON.", field="properties")
    if not idempotency_key:
        stores.kpi_append(row)
        return row
    if len(idempotency_key) > 200:
        raise ValidationFailed(
            "An Idempotency-Key is at most 200 characters.", field="idempotency_key"
        )
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    cache_key = f"kpi-idem:{workspace.pk}:{digest}"
    if not cache.add(cache_key, row, stores.KPI_IDEMPOTENCY_TTL):
        return {**(cache.get(cache_key) or row), "duplicate": True}
    try:
        stores.kpi_append(row)
    except BaseException:
        cache.delete(cache_key)  # not written: a retry must be able to write it
        raise
    return row


@dataclass
class RollupResult:
    day: date
    events: int = 0
    skipped: int = 0
    rows: int = 0
    removed: int = 0
    found: bool = True


def _aggregate(events: list[dict]) -> dict[tuple[str, str, str], dict]:
    totals: dict[tuple[str, str, str], dict] = defaultdict(
        lambda: {"views": 0, "conversions": 0, "count": 0, "value_sum": 0.0}
    )
    for ev in events:
        ws, name = ev.get("workspace_id"), ev.get("event")
        if not isinstance(ws, str) or not isinstance(name, str) or not name:
            continue
        variant = ev.get("variant") or ""
        if not isinstance(variant, str):
            continue
        bucket = totals[(ws, name[:100], variant[:64])]
        bucket["count"] += 1
        if ev.get("kind") == KpiKind.VIEW:
            bucket["views"] += 1
        elif ev.get("kind") == KpiKind.CONVERSION:
            bucket["conversions"] += 1
        value = ev.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            bucket["value_sum"] += value
    return totals


@transaction.atomic
def kpi_rollup_day(*, day: date) -> RollupResult:
    """Recompute one day's aggregates from its file and upsert them: running it twice gives
    the same rows. A day whose file is gone (`.cache/` deleted) keeps its aggregates."""
    result = RollupResult(day=day)
    if not stores.kpi_path(day).exists():
        result.found = False
        return result
    read = stores.kpi_read(day)
    result.events, result.skipped = len(read.rows), read.skipped
    totals = _aggregate(read.rows)
    ids = set()
    for ws, _, _ in totals:
        try:
            ids.add(uuid.UUID(ws))
        except ValueError:
            continue
    known = {str(pk) for pk in Workspace.objects.filter(pk__in=ids).values_list("pk", flat=True)}
    rows = [
        KpiDaily(day=day, workspace_id=ws, event=name, variant=variant, **counts)
        for (ws, name, variant), counts in sorted(totals.items())
        if ws in known
    ]
    keep = {(r.workspace_id, r.event, r.variant) for r in rows}
    stale = [
        pk
        for pk, ws, name, variant in KpiDaily.objects.filter(day=day).values_list(
            "pk", "workspace_id", "event", "variant"
        )
        if (str(ws), name, variant) not in keep
    ]
    if stale:
        result.removed, _ = KpiDaily.objects.filter(pk__in=stale).delete()
    if rows:
        KpiDaily.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["day", "workspace", "event", "variant"],
            update_fields=["views", "conversions", "count", "value_sum", "updated_at"],
        )
    result.rows = len(rows)
    return result


def kpi_rollup(*, days: list[date] | None = None, all_days: bool = False) -> list[RollupResult]:
    """The beat job: roll up yesterday and today (or the given days, or every file)."""
    if all_days:
        days = stores.kpi_days()
    elif days is None:
        days = selectors.recent_days(n=2)
    return [kpi_rollup_day(day=day) for day in days]


def priors_recompute(*, window_days: int = 90) -> dict:
    """Recompute outcome priors (Beta(1+conversions, 1+views-conversions) per event and
    variant) from the daily aggregates, and replace `.cache/priors.json` atomically."""
    from django.db.models import Sum

    since = timezone.now().date() - timedelta(days=window_days)
    aggregates = (
        KpiDaily.objects.filter(day__gte=since)
        .values("workspace_id", "workspace__slug", "event", "variant")
        .annotate(views=Sum("views"), conversions=Sum("conversions"), count=Sum("count"))
        .order_by("workspace_id", "event", "variant")
    )
    workspaces: dict[str, dict] = {}
    for row in aggregates:
        ws = workspaces.setdefault(
            str(row["workspace_id"]), {"slug": row["workspace__slug"], "events": {}}
        )
        views, conversions = row["views"] or 0, row["conversions"] or 0
        alpha, beta = 1 + conversions, 1 + max(views - conversions, 0)
        ws["events"].setdefault(row["event"], {})[row["variant"] or "_"] = {
            "views": views,
            "conversions": conversions,
            "events": row["count"] or 0,
            "alpha": alpha,
            "beta": beta,
            "rate": round(alpha / (alpha + beta), 6),
        }
    priors = {
        "generated_at": timezone.now().isoformat(),
        "window_days": window_days,
        "workspaces": workspaces,
    }
    stores.priors_write(priors)
    return priors


# --- structured request logs (ephemeral) ---------------------------------------------------


def request_logs_prune(*, today: date | None = None, retention_days: int | None = None) -> list:
    """Delete request-log files older than the retention (LOG_RETENTION_DAYS, default 14):
    with 14, today's file and the 13 before it stay."""
    today = today or timezone.now().date()
    days = settings.LOG_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = today - timedelta(days=max(days, 1))
    removed = []
    for day, path in stores.log_files():
        if day <= cutoff:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    if removed:
        logger.info("pruned %d request-log file(s) older than %s", len(removed), cutoff)
    return removed
