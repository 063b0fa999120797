"""The kernel's Celery tasks: the worker health ping and request-log pruning."""

from pathlib import Path

from celery import shared_task
from django.utils import timezone

from .request_logs import request_logs_prune


@shared_task(name="common.tasks.ping")
def ping(path: str) -> str:
    """Write "pong" and the time to `path`; used by the worker health test."""
    Path(path).write_text(f"pong {timezone.now().isoformat()}")
    return "pong"


@shared_task(name="common.prune_request_logs", ignore_result=True)
def prune_request_logs() -> int:
    """Delete request-log files past LOG_RETENTION_DAYS (daily)."""
    return len(request_logs_prune())
