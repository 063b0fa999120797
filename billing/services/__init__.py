"""Billing writes, one module per seam; callers keep using `from billing import services`.

- `entitlements`: plans, entitlements and the plan-limit check (`entitlement_enforce`).
- `credits`: the AI-credit ledger and AI usage.
- `kpi`: KPI events, their daily rollup and outcome priors.

Request-log pruning is not billing: it is `common.request_logs.request_logs_prune`.
"""

from ._shared import IDEMPOTENCY_KEY_MAX, lock_team
from .credits import (
    credits_for_cost,
    credits_grant,
    credits_grant_monthly,
    credits_grant_monthly_all,
    credits_record,
    credits_spend,
    monthly_grant_key,
    record_ai_call,
)
from .entitlements import (
    ENTITLEMENT_EDITABLE,
    LIMIT_PHRASES,
    LimitReached,
    entitlement_end,
    entitlement_enforce,
    entitlement_grant,
    entitlement_update,
    plan_ensure_defaults,
    plan_save,
    validate_overrides,
)
from .kpi import (
    KPI_NAME,
    KPI_PROPERTIES_MAX_BYTES,
    KPI_VARIANT,
    RollupResult,
    kpi_record,
    kpi_rollup,
    kpi_rollup_day,
    priors_recompute,
)

__all__ = [
    "ENTITLEMENT_EDITABLE",
    "IDEMPOTENCY_KEY_MAX",
    "KPI_NAME",
    "KPI_PROPERTIES_MAX_BYTES",
    "KPI_VARIANT",
    "LIMIT_PHRASES",
    "LimitReached",
    "RollupResult",
    "credits_for_cost",
    "credits_grant",
    "credits_grant_monthly",
    "credits_grant_monthly_all",
    "credits_record",
    "credits_spend",
    "entitlement_end",
    "entitlement_enforce",
    "entitlement_grant",
    "entitlement_update",
    "kpi_record",
    "kpi_rollup",
    "kpi_rollup_day",
    "lock_team",
    "monthly_grant_key",
    "plan_ensure_defaults",
    "plan_save",
    "priors_recompute",
    "record_ai_call",
    "validate_overrides",
]
