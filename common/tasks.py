"""Tasks that prove the worker is alive."""

from pathlib import Path

from celery import shared_task
from django.utils import timezone


@shared_task(name="common.tasks.ping")
def ping(path: str) -> str:
    """Write "pong" and the time to `path`; used by the worker health test."""
    Path(path).write_text(f"pong {timezone.now().isoformat()}")
    return "pong"
