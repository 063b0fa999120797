"""KPI events (semi-critical, append-only files), their daily rollup and outcome priors."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from common.exceptions import ValidationFailed
from common.jsonl import json_line
from workspaces.models import Workspace

from .. import selectors, stores
from ..models import KpiDaily, KpiKind
from ._shared import IDEMPOTENCY_KEY_MAX

logger = logging.getLogger(__name__)

KPI_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
KPI_VARIANT = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")
KPI_PROPERTIES_MAX_BYTES = 2048


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
        if len(json_line(row)) > KPI_PROPERTIES_MAX_BYTES + 512:
            raise ValidationFailed("Properties are at most 2 KB of JSON.", field="properties")
    if not idempotency_key:
        stores.kpi_append(row)
        return row
    if len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationFailed(
            f"An Idempotency-Key is at most {IDEMPOTENCY_KEY_MAX} characters.",
            field="idempotency_key",
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
