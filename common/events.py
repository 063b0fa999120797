"""The events port: any app announces "this happened in that workspace" without importing
collaboration, which turns each event into outbound webhook deliveries (an outbox row per
subscribed endpoint) and in-app notifications, in the caller's transaction.

Producers call `emit("deployment.ready", workspace_id=..., data={...}, notify=[user ids])`
inside their own `transaction.atomic()`; if it rolls back, no delivery or notification
exists. A team-level event (an invitation accepted) passes `team_id` instead and reaches
every workspace of the team. Collaboration registers the handler in its `ready()`; with
none registered (an app list without collaboration) events are dropped on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES = (
    "message.created",
    "comment.created",
    "deployment.ready",
    "deployment.failed",
    "approval.requested",
    "approval.decided",
    "backup.completed",
    "backup.failed",
    "invitation.accepted",
)


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    workspace_id: Any = None
    team_id: Any = None
    summary: str = ""
    actor_id: Any = None
    notify: tuple = field(default_factory=tuple)  # user ids to notify in the app
    link: str = ""


Handler = Callable[[Event], None]
_handler: Handler | None = None


def register(handler: Handler | None) -> None:
    global _handler
    _handler = handler


def emit(
    type: str,
    *,
    data: dict[str, Any],
    workspace_id=None,
    team_id=None,
    summary: str = "",
    actor=None,
    notify: Iterable = (),
    link: str = "",
) -> None:
    """Announce an event (see the module docstring); call inside the writing transaction."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    if _handler is None:
        return
    _handler(
        Event(
            type=type,
            data=data,
            workspace_id=workspace_id,
            team_id=team_id,
            summary=summary,
            actor_id=getattr(actor, "pk", actor),
            notify=tuple(dict.fromkeys(u for u in notify if u is not None)),
            link=link,
        )
    )
