"""Billing's file stores: KPI events (append-only JSONL) and outcome priors.

None of these is the only copy of anything that matters: KPI events are semi-critical
history (their daily aggregates are in the database), priors are recomputed from those
aggregates. Every reader here therefore tolerates a missing folder, a missing file and
a torn or corrupt line; every writer creates what it needs.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import date, datetime
from pathlib import Path

from django.conf import settings

from common import request_logs
from common.jsonl import JsonlRead, append_jsonl, read_jsonl  # noqa: F401  (re-exported)
from governance.registry import DataClass, register_store

logger = logging.getLogger(__name__)

KPI_FOLDER = "kpi"
KPI_IDEMPOTENCY_TTL = 24 * 3600
PRIORS_FILE = "priors.json"


# --- KPI events ------------------------------------------------------------------------


def kpi_dir() -> Path:
    return Path(settings.CACHE_DIR) / KPI_FOLDER


def kpi_path(day: date) -> Path:
    return kpi_dir() / f"{day.isoformat()}.jsonl"


def kpi_append(event: dict) -> Path:
    """Append one KPI event to the file of its day (`event["ts"]`, an ISO timestamp)."""
    day = datetime.fromisoformat(event["ts"]).date()
    path = kpi_path(day)
    append_jsonl(path, event)
    return path


def kpi_read(day: date) -> JsonlRead:
    return read_jsonl(kpi_path(day))


def kpi_days() -> list[date]:
    """The days that have an event file, oldest first."""
    days = []
    try:
        names = os.listdir(kpi_dir())
    except FileNotFoundError:
        return []
    for name in names:
        if not name.endswith(".jsonl"):
            continue
        try:
            days.append(date.fromisoformat(name.removesuffix(".jsonl")))
        except ValueError:
            continue
    return sorted(days)


# --- outcome priors ---------------------------------------------------------------------


def priors_path() -> Path:
    return Path(settings.CACHE_DIR) / PRIORS_FILE


def write_atomic(path: Path, obj: dict) -> None:
    """Write JSON to a temporary file in the same folder, fsync it, then os.replace():
    a reader sees the old file or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def priors_write(priors: dict) -> Path:
    path = priors_path()
    write_atomic(path, priors)
    return path


def priors_read() -> dict:
    """The last priors written, or {} when there are none or the file is unreadable."""
    try:
        data = json.loads(priors_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError):
        logger.warning("unreadable priors file %s; treating as empty", priors_path())
        return {}
    return data if isinstance(data, dict) else {}


# --- registration ------------------------------------------------------------------------

register_store(
    "billing.kpi_events",
    DataClass.SEMI_CRITICAL,
    storage=".cache/kpi/*.jsonl",
    reason="KPI view/conversion events (seed 000); rolled up daily into billing.KpiDaily.",
    append_only=True,
    tolerant_reader=True,
    writer=kpi_append,
)
register_store(
    "billing.outcome_priors",
    DataClass.SEMI_CRITICAL,
    storage=".cache/priors.json",
    reason="Outcome priors per event and variant, recomputed from billing.KpiDaily.",
    # Replaced whole with temp file + os.replace (write_atomic), never edited in place.
    atomic_replace=True,
    tolerant_reader=True,
    writer=write_atomic,  # priors_write delegates here
)
register_store(
    "billing.kpi_idempotency",
    DataClass.EPHEMERAL,
    storage="cache key kpi-idem:{workspace_id}:{sha256 of Idempotency-Key} (Redis with REDIS_URL)",
    tenant="workspace",
    reason="Remembers a KPI post's Idempotency-Key for a day so a client retry is not counted "
    "twice; losing it only risks one duplicate event.",
    ttl=KPI_IDEMPOTENCY_TTL,
)
register_store(
    "billing.kpi_rate_limit",
    DataClass.EPHEMERAL,
    storage="cache key throttle_kpi_{user} (DRF ScopedRateThrottle; Redis with REDIS_URL)",
    reason="Per-user request timestamps of the KPI endpoint's rate limit (KPI_RATE_LIMIT).",
    ttl=24 * 3600,  # DRF expires each key after the rate's window (at most a day)
)
# Request logs are the kernel's (`common.request_logs`), but the kernel cannot import the
# registry above it; they are registered here until governance registers kernel stores.
register_store(**request_logs.store_entry())
