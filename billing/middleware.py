"""Structured request logs: one JSON object per request in LOG_DIR/holdfast-YYYY-MM-DD.jsonl.

Ephemeral (pruned by the `billing.prune_request_logs` beat job after LOG_RETENTION_DAYS).
A log that cannot be written never fails the request.
"""

import logging
import re
import time
import uuid

from django.utils import timezone

from . import stores

logger = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
WORKSPACE_IN_PATH = re.compile(r"/workspaces/(?P<slug>[-a-zA-Z0-9_]+)/")


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
            stores.log_append(record, day=now.date())
        except OSError:
            logger.warning("could not write the request log", exc_info=True)
