"""Billing reads: a team's plan and limits, usage against each limit, the credit balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from accounts.models import Membership, Team, User
from common.exceptions import NotFound
from workspaces.models import Project, Workspace

from . import stores
from .models import (
    DEFAULT_PLAN_CODE,
    DEFAULT_PLANS,
    LIMIT_NAMES,
    AiUsage,
    CreditEntry,
    CreditKind,
    Entitlement,
    KpiDaily,
    LimitName,
    Plan,
)


@dataclass(frozen=True)
class TeamTerms:
    """What a team may do right now: its plan, the entitlement behind it, the limits."""

    plan: Plan
    entitlement: Entitlement | None
    limits: dict[str, int | None]


def builtin_default_plan() -> Plan:
    """The seeded default plan as an unsaved row, for a database that lost its plans."""
    spec = {k: v for k, v in DEFAULT_PLANS[DEFAULT_PLAN_CODE].items()}
    return Plan(code=DEFAULT_PLAN_CODE, **spec)


def default_plan() -> Plan:
    return (
        Plan.objects.filter(is_default=True).first()
        or Plan.objects.filter(code=DEFAULT_PLAN_CODE).first()
        or builtin_default_plan()
    )


def current_entitlement(*, team: Team, at: datetime | None = None) -> Entitlement | None:
    at = at or timezone.now()
    return (
        Entitlement.objects.select_related("plan")
        .filter(team=team, valid_from__lte=at)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .order_by("-valid_from", "-created_at")
        .first()
    )


def effective_limits(*, plan: Plan, overrides: dict | None) -> dict[str, int | None]:
    limits = plan.limits()
    for name, value in (overrides or {}).items():
        if name in LIMIT_NAMES:
            limits[name] = value
    return limits


def team_terms(*, team: Team, at: datetime | None = None) -> TeamTerms:
    entitlement = current_entitlement(team=team, at=at)
    if entitlement is None:
        plan = default_plan()
        return TeamTerms(plan=plan, entitlement=None, limits=plan.limits())
    return TeamTerms(
        plan=entitlement.plan,
        entitlement=entitlement,
        limits=effective_limits(plan=entitlement.plan, overrides=entitlement.overrides),
    )


def entitlement_list(*, team: Team) -> QuerySet[Entitlement]:
    return Entitlement.objects.filter(team=team).select_related("plan").order_by("-valid_from")


# --- usage ---------------------------------------------------------------------------------


def utc_day_start(day: date | None = None) -> datetime:
    day = day or timezone.now().date()
    return datetime.combine(day, time.min, tzinfo=UTC)


def month_start(at: datetime | None = None) -> datetime:
    at = at or timezone.now()
    return utc_day_start(at.date().replace(day=1))


def credit_balance(*, team: Team) -> int:
    """The sum of the team's ledger entries: the only definition of the balance."""
    total = CreditEntry.objects.filter(team=team).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def credits_used_since(*, team: Team, since: datetime) -> int:
    total = CreditEntry.objects.filter(
        team=team, kind=CreditKind.USAGE, created_at__gte=since
    ).aggregate(total=Sum("amount"))["total"]
    return -int(total or 0)


def deploys_today(*, team: Team) -> int:
    from deployments.models import Deployment

    return Deployment.objects.filter(
        project__workspace__team=team, created_at__gte=utc_day_start()
    ).count()


def storage_used(*, team: Team) -> int:
    from deployments.models import Artifact
    from workspaces.models import ProjectFile

    total = Artifact.objects.filter(project__workspace__team=team).aggregate(total=Sum("size"))
    files = ProjectFile.objects.filter(project__workspace__team=team).aggregate(total=Sum("size"))
    return int(total["total"] or 0) + int(files["total"] or 0)


def limit_usage(*, team: Team, limit: str, workspace: Workspace | None = None) -> int:
    """How much of `limit` the team uses now (per workspace for projects_per_workspace)."""
    if limit == LimitName.SEATS:
        return Membership.objects.filter(team=team).count()
    if limit == LimitName.WORKSPACES:
        return Workspace.objects.filter(team=team).count()
    if limit == LimitName.PROJECTS_PER_WORKSPACE:
        if workspace is None:
            busiest = (
                Workspace.objects.filter(team=team)
                .annotate(n=Count("projects"))
                .order_by("-n")
                .values_list("n", flat=True)
                .first()
            )
            return int(busiest or 0)
        return Project.objects.filter(workspace=workspace).count()
    if limit == LimitName.DEPLOYS_PER_DAY:
        return deploys_today(team=team)
    if limit == LimitName.MONTHLY_AI_CREDITS:
        return credits_used_since(team=team, since=month_start())
    if limit == LimitName.STORAGE_BYTES:
        return storage_used(team=team)
    raise ValueError(f"unknown limit {limit!r}")


def team_billing_summary(*, team: Team) -> dict:
    """Plan, limits, usage against each limit and the credit balance (the billing endpoint)."""
    terms = team_terms(team=team)
    usage = {}
    for name in LIMIT_NAMES:
        used = limit_usage(team=team, limit=name)
        limit = terms.limits[name]
        usage[name] = {
            "limit": limit,
            "used": used,
            "remaining": None if limit is None else max(limit - used, 0),
        }
    return {
        "team": team,
        "plan": terms.plan,
        "entitlement": terms.entitlement,
        "limits": terms.limits,
        "usage": usage,
        "credit_balance": credit_balance(team=team),
    }


# --- API lookups -----------------------------------------------------------------------------


def team_for_member(*, user: User, team_id) -> Team:
    """The team if `user` is a member of it; 404 for both missing and not a member."""
    team = None
    if user.is_authenticated:
        team = Team.objects.filter(pk=team_id, memberships__user=user).first()
    if team is None:
        raise NotFound("Team not found.")
    return team


def team_for_member_slug(*, user: User, slug: str) -> Team:
    """The team with this slug if `user` is a member of it; 404 for missing and not a member."""
    team = None
    if user.is_authenticated:
        team = Team.objects.filter(slug=slug, memberships__user=user).first()
    if team is None:
        raise Http404("Team not found.")
    return team


def usage_rows(*, summary: dict) -> list[dict]:
    """The billing page's rows: each limit's label, use, allowance and percentage used."""
    rows = []
    for name in LIMIT_NAMES:
        usage = summary["usage"][name]
        limit, used = usage["limit"], usage["used"]
        percent = None if not limit else min(100, round(100 * used / limit))
        rows.append(
            {
                "name": name,
                "label": LimitName(name).label,
                "used": used,
                "limit": limit,
                "remaining": usage["remaining"],
                "percent": 100 if limit == 0 else percent,
                "is_bytes": name == LimitName.STORAGE_BYTES,
            }
        )
    return rows


def credit_entries(*, team: Team) -> QuerySet[CreditEntry]:
    return (
        CreditEntry.objects.filter(team=team)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def ai_usage_list(*, team: Team) -> QuerySet[AiUsage]:
    return AiUsage.objects.filter(team=team).order_by("-created_at")


def kpi_daily_list(*, workspace: Workspace) -> QuerySet[KpiDaily]:
    return KpiDaily.objects.filter(workspace=workspace).order_by("-day", "event", "variant")


def workspace_priors(*, workspace: Workspace) -> dict:
    """This workspace's outcome priors from `.cache/priors.json`; {} when there are none."""
    workspaces = stores.priors_read().get("workspaces")
    if not isinstance(workspaces, dict):
        return {}
    mine = workspaces.get(str(workspace.pk))
    return mine.get("events", {}) if isinstance(mine, dict) else {}


def recent_days(*, today: date | None = None, n: int = 2) -> list[date]:
    today = today or timezone.now().date()
    return [today - timedelta(days=i) for i in range(n - 1, -1, -1)]
