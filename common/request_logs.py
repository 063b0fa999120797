"""Structured request logs: one JSON object per request in LOG_DIR/holdfast-YYYY-MM-DD.jsonl.

`RequestLogMiddleware` (in `MIDDLEWARE`) writes them; a log that cannot be written never
fails the request. They are ephemeral: the `common.prune_request_logs` beat job deletes
files older than LOG_RETENTION_DAYS (`request_logs_prune`). `STORE` is their entry for the
data-class registry (the registry lives above this kernel, so it is registered from there).
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .jsonl import append_jsonl

logger = logging.getLogger(__name__)

LOG_PREFIX = "holdfast-"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
WORKSPACE_IN_PATH = re.compile(r"/workspaces/(?P<slug>[-a-zA-Z0-9_]+)/")


# --- the files ----------------------------------------------------------------------------


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


def request_logs_prune(*, today: date | None = None, retention_days: int | None = None) -> list:
    """Delete request-log files older than the retention (LOG_RETENTION_DAYS, default 14):
    with 14, today's file and the 13 before it stay."""
    today = today or timezone.now().date()
    days = settings.LOG_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = today - timedelta(days=max(days, 1))
    removed = []
    for day, path in log_files():
        if day <= cutoff:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    if removed:
        logger.info("pruned %d request-log file(s) older than %s", len(removed), cutoff)
    return removed


def store_entry() -> dict:
    """The keyword arguments of this store's `governance.registry.register_store` call."""
    return {
        "name": "common.request_logs",
        "data_class": "ephemeral",
        "storage": "LOG_DIR/holdfast-YYYY-MM-DD.jsonl",
        "reason": "Structured request logs (one JSON object per request) for debugging.",
        "append_only": True,
        "ttl": settings.LOG_RETENTION_DAYS * 86400,
        "cleanup": "common.prune_request_logs",
        "tolerant_reader": True,
        "writer": log_append,
    }


# --- the middleware -----------------------------------------------------------------------


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        response = self.get_response(request)
        response.headers.setdefault("X-Request-ID", request_id)
        self._write(request, response, request_id, started)
        return response

    def _write(self, request, response, request_id, started) -> None:
        now = timezone.now()
        user = getattr(request, "user", None)
        match = getattr(request, "resolver_match", None)
        workspace = (match.kwargs.get("workspace_slug") if match else None) or None
        if workspace is None:
            found = WORKSPACE_IN_PATH.search(request.path)
            workspace = found.group("slug") if found else None
        record = {
            "ts": now.isoformat(),
            "request_id": request_id,
            "user_id": str(user.pk) if user is not None and user.is_authenticated else None,
            "workspace": workspace,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.monotonic() - started) * 1000, 2),
        }
        try:
            log_append(record, day=now.date())
        except OSError:
            logger.warning("could not write the request log", exc_info=True)
