"""Plans, entitlements and the one plan-limit check (`entitlement_enforce`).

`entitlement_enforce` is the one place that decides whether a team may have one more
of something; the workspace, project, membership, deployment, artifact and credit
services all ask it (through `common.limits`) inside their own transaction, after it has
locked the team row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Team
from common.exceptions import PaymentRequired, ValidationFailed
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Workspace

from .. import selectors
from ..models import DEFAULT_PLANS, LIMIT_NAMES, Entitlement, EntitlementSource, LimitName, Plan
from ._shared import lock_team, save_checked

LIMIT_PHRASES = {
    LimitName.SEATS: "seats",
    LimitName.WORKSPACES: "workspaces",
    LimitName.PROJECTS_PER_WORKSPACE: "projects per workspace",
    LimitName.DEPLOYS_PER_DAY: "deployments per UTC day",
    LimitName.STORAGE_BYTES: "bytes of storage (artifacts and project files)",
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
            save_checked(
                other,
                actor=actor,
                reason=f"default moved to {plan.code}",
                update_fields=["is_default"],
            )
    save_checked(
        plan, actor=actor, reason=reason or ("plan created" if creating else "plan changed")
    )
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
    lock_team(team)
    valid_from = valid_from or timezone.now()
    if valid_to is not None and valid_to <= valid_from:
        raise ValidationFailed("An entitlement must end after it starts.", field="valid_to")
    if source not in EntitlementSource.values:
        raise ValidationFailed("Source is manual or external.", field="source")
    previous = selectors.current_entitlement(team=team, at=valid_from)
    if previous is not None and previous.valid_to is None and previous.valid_from < valid_from:
        previous.valid_to = valid_from
        save_checked(previous, actor=actor, reason="superseded", update_fields=["valid_to"])
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
    save_checked(entitlement, actor=actor, reason=note or f"granted plan {plan.code}")
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
    lock_team(entitlement.team)
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
    save_checked(
        entitlement,
        actor=actor,
        reason=fields.get("note") or f"changed {', '.join(changed)}",
        update_fields=changed,
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
    lock_team(team)
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
