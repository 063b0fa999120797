"""Who changed it and why: fills the acting user and change reason of every history row.

Requests: simple-history's HistoryRequestMiddleware keeps the request; DRF sets
`request.user` on the underlying Django request once it authenticates (session
or Bearer token), so services that do not pass `_history_user` still record the
caller. Services pass `_history_user` and `_change_reason` explicitly where they
can. Tasks and management commands, which have no request, wrap their work in
`history_context(actor=..., reason=...)`.

Whatever is still missing when a history row is about to be written is filled
here: the user from the context, the reason from the context, else from the
request ("PATCH /api/v1/..."), else "system". No history row has an empty reason.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

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


def _request():
    return getattr(HistoricalRecords.context, "request", None)


def default_reason() -> str:
    context = _context.get()
    if context is not None and context[1]:
        return context[1]
    request = _request()
    if request is not None:
        return f"{request.method} {request.path}"[:255]
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
