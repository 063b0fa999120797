"""Who changed it and why: fills the acting user and change reason of every history row.

Requests: simple-history's HistoryRequestMiddleware keeps the request; DRF sets
`request.user` on the underlying Django request once it authenticates (session
or Bearer token), so services that do not pass `_history_user` still record the
caller. Services pass `_history_user` and `_change_reason` explicitly where they
can. Tasks and management commands, which have no request, wrap their work in
`history_context(actor=..., reason=...)`.

Whatever is still missing when a history row is about to be written is filled
here: the user from the context, the reason from the context, else from the
request ("PATCH /api/v1/..."), else the management command ("command seed_demo"),
else "system". Celery tasks get "task <name>". No history row has an empty reason.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar, Token
from pathlib import Path

from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

_context: ContextVar[tuple[object | None, str] | None] = ContextVar("history_context", default=None)

SYSTEM_REASON = "system"


@contextmanager
def history_context(*, actor=None, reason: str):
    """Attribute history written inside the block to `actor` with `reason` (tasks, commands)."""
    token = _context.set((actor, reason))
    try:
        yield
    finally:
        _context.reset(token)


def save_tracked(obj, *, actor, reason: str, update_fields: Iterable[str] | None = None) -> None:
    """Save a history-tracked row with its history attributed to `actor` and `reason`.

    With `update_fields`, only those columns are written, plus `updated_at` when the model
    has one (an UPDATE that left it stale would hide the change from incremental readers).
    """
    if actor is not None:
        obj._history_user = actor
    obj._change_reason = reason
    if update_fields is None:
        obj.save()
        return
    fields = set(update_fields)
    if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
        fields.add("updated_at")
    obj.save(update_fields=sorted(fields))


def _request():
    return getattr(HistoricalRecords.context, "request", None)


def default_reason() -> str:
    context = _context.get()
    if context is not None and context[1]:
        return context[1]
    request = _request()
    if request is not None:
        return f"{request.method} {request.path}"[:255]
    argv = sys.argv
    if len(argv) > 1 and Path(argv[0]).name in ("manage.py", "django-admin"):
        return f"command {argv[1]}"  # a management command that set no reason of its own
    return SYSTEM_REASON


@receiver(pre_create_historical_record, dispatch_uid="governance.history.fill")
def fill_user_and_reason(sender, history_instance, **kwargs):
    if getattr(history_instance, "history_user_id", None) is None:
        context = _context.get()
        actor = context[0] if context is not None else None
        if actor is None:
            request = _request()
            user = getattr(request, "user", None) if request is not None else None
            if user is not None and user.is_authenticated:
                actor = user
        if actor is not None and getattr(actor, "is_authenticated", False):
            history_instance.history_user = actor
    if not history_instance.history_change_reason:
        history_instance.history_change_reason = default_reason()


# Celery tasks have no request: attribute their history to the task unless they say more.
_task_tokens: dict[str, Token] = {}


def _task_started(task_id=None, task=None, **kwargs):
    if _context.get() is None and task_id is not None:
        _task_tokens[task_id] = _context.set((None, f"task {task.name}"))


def _task_finished(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _context.reset(token)
        except ValueError:  # finished in another context; nothing to undo there
            pass


def connect_task_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, dispatch_uid="governance.history.task_started", weak=False)
    task_postrun.connect(
        _task_finished, dispatch_uid="governance.history.task_finished", weak=False
    )


connect_task_signals()
