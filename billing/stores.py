"""Billing's file stores: KPI events (append-only JSONL), outcome priors, request logs.

None of these is the only copy of anything that matters: KPI events are semi-critical
history (their daily aggregates are in the database), priors are recomputed from those
aggregates, request logs are ephemeral. Every reader here therefore tolerates a missing
folder, a missing file and a torn or corrupt line; every writer creates what it needs.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from django.conf import settings

from governance.registry import DataClass, register_store

logger = logging.getLogger(__name__)

KPI_FOLDER = "kpi"
KPI_IDEMPOTENCY_TTL = 24 * 3600
PRIORS_FILE = "priors.json"
LOG_PREFIX = "holdfast-"


def _json_line(obj: dict) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), sort_keys=True, default=str) + "\n").encode()


def append_jsonl(path: Path, obj: dict) -> None:
    """Append one JSON object as one line; never rewrites what is there.

    If an earlier writer died mid-line (the file does not end in a newline), a newline is
    written first, so only the torn line is lost, not the event appended after it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _json_line(obj)
    with open(path, "a+b") as fh:  # append mode: every write lands at the end
        size = fh.seek(0, os.SEEK_END)
        if size:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                data = b"\n" + data
        fh.write(data)
        fh.flush()


@dataclass
class JsonlRead:
    """What a tolerant read found: the parsed objects and how many lines it skipped."""

    rows: list[dict] = field(default_factory=list)
    skipped: int = 0


def read_jsonl(path: Path) -> JsonlRead:
    """Every JSON object in `path`; torn or corrupt lines are skipped and counted."""
    result = JsonlRead()
    try:
        fh = open(path, "rb")  # noqa: SIM115  (closed below; a missing file is an empty read)
    except FileNotFoundError:
        return result
    with fh:
        for raw in fh:
            line = raw.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except (UnicodeDecodeError, ValueError):
                result.skipped += 1
                continue
            if not isinstance(obj, dict):
                result.skipped += 1
                continue
            result.rows.append(obj)
    if result.skipped:
        logger.warning("skipped %d unreadable line(s) in %s", result.skipped, path)
    return result


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


# --- structured request logs --------------------------------------------------------------


def log_dir() -> Path:
    return Path(settings.LOG_DIR)


def log_path(day: date) -> Path:
    return log_dir() / f"{LOG_PREFIX}{day.isoformat()}.jsonl"


def log_append(record: dict, *, day: date) -> None:
    append_jsonl(log_path(day), record)


def log_files() -> list[tuple[date, Path]]:
    """(day, path) of every request-log file, oldest first; other files are ignored."""
    try:
        names = os.listdir(log_dir())
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if not (name.startswith(LOG_PREFIX) and name.endswith(".jsonl")):
            continue
        try:
            day = date.fromisoformat(name[len(LOG_PREFIX) : -len(".jsonl")])
        except ValueError:
            continue
        found.append((day, log_dir() / name))
    return sorted(found)


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
register_store(
    "billing.request_logs",
    DataClass.EPHEMERAL,
    storage="LOG_DIR/holdfast-YYYY-MM-DD.jsonl",
    reason="Structured request logs (one JSON object per request) for debugging.",
    append_only=True,
    ttl=settings.LOG_RETENTION_DAYS * 86400,
    cleanup="billing.prune_request_logs",
    tolerant_reader=True,
    writer=log_append,
)
