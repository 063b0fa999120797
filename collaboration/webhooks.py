"""Outbound webhooks: endpoints, the outbox, signed delivery with retries, replay, sweep.

- **Outbox**: `handle_event` (the `common.events` handler) writes one `WebhookDelivery`
  per subscribed active endpoint in the producer's transaction, and asks Celery to send
  it only after that transaction commits. A rolled-back event leaves nothing; a lost
  task message is re-sent by the beat sweep (`webhook_sweep`).
- **Signing** follows Standard Webhooks with the `standardwebhooks` library: headers
  `webhook-id` (the delivery's `message_id`, stable across retries and replays),
  `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256>`); during a
  secret rotation's overlap both the new and the previous secret sign.
- **Sending** (`delivery_send`) claims the delivery under a lease, POSTs without
  following redirects (a 3xx is a failure), and records status, attempts, response code
  and latency. 2xx: delivered. 410: the endpoint is disabled. Anything else: retried on
  `WEBHOOK_RETRY_SCHEDULE` (backoff), then failed.
- **Addresses**: a URL whose host is or resolves to a private, loopback, link-local or
  otherwise non-global address is refused at registration (400) and again before each
  send (DNS may change), unless the host is listed in `WEBHOOK_ALLOWED_HOSTS`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpcore
import httpx
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.models import User
from common import addresses
from common.events import EVENT_TYPES, Event
from common.exceptions import Conflict, ValidationFailed
from governance.history import save_tracked
from workspaces.models import Workspace

from .models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format prefix, not a secret
USER_AGENT = "Holdfast-Webhooks/1"


# --- secrets, addresses, subscriptions ---------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def url_problem(url: str) -> str | None:
    """None when `url` may receive webhooks, else why not (resolves the host)."""
    return addresses.url_problem(
        url,
        allowed_hosts=settings.WEBHOOK_ALLOWED_HOSTS,
        setting="WEBHOOK_ALLOWED_HOSTS",
        what="A webhook URL",
    )


def _check_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 2000:
        raise ValidationFailed("At most 2000 characters.", field="url")
    problem = url_problem(url)
    if problem:
        raise ValidationFailed(problem, field="url")
    return url


def _check_events(events) -> list[str]:
    if not isinstance(events, list) or not events:
        raise ValidationFailed('Name at least one event type, or "*" for all.', field="events")
    unknown = sorted({e for e in events if e != "*" and e not in EVENT_TYPES})
    if unknown:
        raise ValidationFailed(
            f"Unknown event types: {', '.join(map(str, unknown))}.", field="events"
        )
    return sorted(set(events))


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return "*" in endpoint.events or event_type in endpoint.events


# --- endpoints --------------------------------------------------------------------------


@transaction.atomic
def webhook_create(
    *, workspace: Workspace, url: str, events: list[str], actor: User, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (shown to the caller once)."""
    endpoint = WebhookEndpoint(
        workspace=workspace,
        url=_check_url(url),
        events=_check_events(events),
        description=(description or "")[:200],
        secret=new_secret(),
        created_by=actor,
    )
    save_tracked(endpoint, actor=actor, reason="webhook endpoint registered")
    return endpoint, endpoint.secret


@transaction.atomic
def webhook_update(
    *, endpoint: WebhookEndpoint, actor: User, url=None, events=None, is_active=None,
    description=None,
) -> WebhookEndpoint:  # fmt: skip
    fields = []
    if url is not None:
        endpoint.url = _check_url(url)
        fields.append("url")
    if events is not None:
        endpoint.events = _check_events(events)
        fields.append("events")
    if description is not None:
        endpoint.description = description[:200]
        fields.append("description")
    if is_active is not None and is_active != endpoint.is_active:
        endpoint.is_active = is_active
        endpoint.disabled_reason = "" if is_active else "disabled by an admin"
        fields += ["is_active", "disabled_reason"]
    if fields:
        save_tracked(endpoint, actor=actor, reason="webhook endpoint changed",
                     update_fields=[*fields, "updated_at"])  # fmt: skip
    return endpoint


@transaction.atomic
def webhook_rotate_secret(*, endpoint: WebhookEndpoint, actor: User) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned once); the old one keeps signing for the overlap window."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(
        seconds=settings.WEBHOOK_SECRET_OVERLAP_SECONDS
    )
    endpoint.secret = new_secret()
    save_tracked(
        endpoint, actor=actor, reason="webhook secret rotated",
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"],
    )  # fmt: skip
    return endpoint, endpoint.secret


@transaction.atomic
def webhook_delete(*, endpoint: WebhookEndpoint, actor: User) -> None:
    endpoint._history_user = actor  # type: ignore[attr-defined]
    endpoint._change_reason = "webhook endpoint removed"  # type: ignore[attr-defined]
    endpoint.delete()


# --- the outbox ---------------------------------------------------------------------------


def _enqueue(delivery_ids: list) -> None:
    from .tasks import send_webhook_delivery

    ids = [str(i) for i in delivery_ids]
    transaction.on_commit(lambda: [send_webhook_delivery.delay(i) for i in ids])


def subscribed_endpoints_sql(workspace_column: str) -> str:
    """SQL (PostgreSQL) for the ids of the active endpoints of the workspace in
    `workspace_column` subscribed to the event type bound to its one `%s`: the rule of
    `subscribed`, for a caller folding this read into a statement of its own."""
    table = WebhookEndpoint._meta.db_table
    return (
        f'ARRAY(SELECT we."id" FROM "{table}" we WHERE we."workspace_id" = {workspace_column}'  # noqa: S608
        ' AND we."is_active" AND (we."events" ? \'*\' OR we."events" ? %s))'
    )


def webhook_outbox_write(
    *, workspace_id, event_type: str, data: dict, endpoint_ids: list | None = None
) -> list[WebhookDelivery]:
    """One delivery per active endpoint of the workspace subscribed to `event_type`, in
    the caller's transaction; sent after it commits. `endpoint_ids`: those endpoints,
    when the caller already read them in its transaction (`subscribed_endpoints_sql`)."""
    if endpoint_ids is None:
        endpoint_ids = [
            e.pk
            for e in WebhookEndpoint.objects.filter(workspace_id=workspace_id, is_active=True)
            if subscribed(e, event_type)
        ]
    if not endpoint_ids:
        return []
    now = timezone.now()
    message_id = f"msg_{uuid.uuid4().hex}"
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            workspace_id=workspace_id,
            endpoint_id=endpoint_id,
            message_id=message_id,
            event_type=event_type,
            payload=payload,
            next_attempt_at=now,
        )
        for endpoint_id in endpoint_ids
    )
    _enqueue([d.pk for d in deliveries])
    return deliveries


def handle_event(event: Event) -> None:
    """The `common.events` handler: webhook deliveries and notifications for one event."""
    from .notify import notify

    if event.workspace_id is not None:
        workspace_ids = [event.workspace_id]
    else:
        workspace_ids = list(
            Workspace.objects.filter(team_id=event.team_id)
            .order_by("created_at")
            .values_list("pk", flat=True)
        )
    for workspace_id in workspace_ids:
        webhook_outbox_write(workspace_id=workspace_id, event_type=event.type, data=event.data)
    if event.notify and workspace_ids:
        notify(
            workspace_id=workspace_ids[0], kind=event.type, recipients=event.notify,
            actor_id=event.actor_id, summary=event.summary, link=event.link,
        )  # fmt: skip


# --- sending ------------------------------------------------------------------------------


def _signatures(endpoint: WebhookEndpoint, message_id: str, at: datetime, body: str) -> str:
    keys = [endpoint.secret]
    if endpoint.previous_secret and (
        endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > at
    ):
        keys.append(endpoint.previous_secret)
    return " ".join(Webhook(k).sign(msg_id=message_id, timestamp=at, data=body) for k in keys)


def _relaxed_commit() -> None:
    """The sender's own bookkeeping (claim, record) may commit without waiting for the WAL
    flush on PostgreSQL: a commit lost in a crash only means the delivery is sent again,
    with the same `webhook-id`, which at-least-once delivery allows. The outbox row itself
    is written in the producer's transaction, durably."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _claim(delivery_id) -> tuple[WebhookDelivery | None, float | None]:
    """(delivery, None) when claimed for one attempt; (delivery|None, wait) otherwise:
    wait > 0 to try again later, 0 when there is nothing to do."""
    with transaction.atomic():
        _relaxed_commit()
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
            return None, 0
        now = timezone.now()
        if delivery.status == DeliveryStatus.SENDING and delivery.lease_expires_at > now:
            return None, (delivery.lease_expires_at - now).total_seconds() + 1
        if delivery.next_attempt_at and delivery.next_attempt_at > now + timedelta(seconds=0.25):
            return None, (delivery.next_attempt_at - now).total_seconds()
        if not delivery.endpoint.is_active:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = "the endpoint is disabled"
            delivery.save(update_fields=["status", "last_error", "updated_at"])
            return None, 0
        delivery.status = DeliveryStatus.SENDING
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.lease_expires_at = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
        delivery.save(
            update_fields=[
                "status",
                "attempts",
                "last_attempt_at",
                "lease_expires_at",
                "updated_at",
            ]
        )
        return delivery, None


_client: httpx.Client | None = None
_client_pid: int | None = None


def _http() -> httpx.Client:
    """One pooled client per process: building an `httpx.Client` loads the CA bundle
    (tens of milliseconds), which dominated each delivery. A forked worker child makes
    its own rather than sharing the parent's sockets."""
    global _client, _client_pid  # noqa: PLW0603
    if _client is None or _client_pid != os.getpid():
        transport = httpx.HTTPTransport(trust_env=False)
        # Every connection goes through the address guard at connect time, to the address
        # it judged; httpx has no public option for the network backend, hence its pool
        # is rebuilt here with the same settings httpx uses by default.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=addresses.GuardedBackend(
                allowed_hosts=lambda: settings.WEBHOOK_ALLOWED_HOSTS,
                setting="WEBHOOK_ALLOWED_HOSTS",
            ),
        )
        _client = httpx.Client(
            transport=transport,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
            trust_env=False,
        )
        _client_pid = os.getpid()
    return _client


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, int]:
    """(response status or None, error, latency ms) of one attempt."""
    endpoint = delivery.endpoint
    problem = url_problem(endpoint.url)
    if problem:
        return None, f"refused: {problem}"[:500], 0
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
    at = datetime.now(tz=UTC).replace(microsecond=0)
    headers = {
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": _signatures(endpoint, delivery.message_id, at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    started = time.monotonic()
    try:
        response = _http().post(
            endpoint.url,
            content=body.encode("utf-8"),
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        latency = int((time.monotonic() - started) * 1000)
        if str(exc).startswith("refused: "):  # the address guard, at connect time
            return None, str(exc)[:500], latency
        return None, f"{type(exc).__name__}: {exc}"[:500], latency
    latency = int((time.monotonic() - started) * 1000)
    if 300 <= response.status_code < 400:
        return response.status_code, "redirects are not followed; use the final URL", latency
    return response.status_code, "", latency


def delivery_send(*, delivery_id) -> float | None:
    """One attempt at a delivery (the Celery task calls this). Returns seconds until the
    next attempt when it should be retried, else None. Safe to call twice: a delivered or
    failed delivery is left alone, one in flight elsewhere is not sent twice."""
    delivery, wait = _claim(delivery_id)
    if delivery is None:
        return wait or None
    attempt = delivery.attempts
    code, error, latency = _post(delivery)
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    now = timezone.now()
    fields: dict = {"response_status": code, "latency_ms": latency, "lease_expires_at": None}
    retry_in = None
    if code is not None and 200 <= code < 300:
        fields.update(status=DeliveryStatus.DELIVERED, delivered_at=now, last_error="")
        fields["next_attempt_at"] = None
    elif code == 410:
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        fields["last_error"] = "410 Gone: the endpoint was disabled"
    else:
        fields["last_error"] = error or f"the receiver answered {code}"
        if attempt > len(schedule):
            fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        else:
            retry_in = float(schedule[attempt - 1])
            fields["status"] = DeliveryStatus.PENDING
            fields["next_attempt_at"] = now + timedelta(seconds=retry_in)
    with transaction.atomic():
        _relaxed_commit()
        # One conditional UPDATE: only the attempt this worker claimed is recorded (a
        # sweep may have re-claimed an expired lease meanwhile).
        recorded = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=attempt
        ).update(**fields, updated_at=now)
        if not recorded:
            return None
        if code == 410:
            _disable(delivery.endpoint_id, "the receiver answered 410 Gone")
    return retry_in


def _disable(endpoint_id, reason: str) -> None:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if endpoint.is_active:
        endpoint.is_active, endpoint.disabled_reason = False, reason
        save_tracked(endpoint, actor=None, reason=reason,
                     update_fields=["is_active", "disabled_reason", "updated_at"])  # fmt: skip


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery, actor: User) -> WebhookDelivery:
    """Send a delivery again, with the same `webhook-id` (receivers deduplicate on it)."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status == DeliveryStatus.SENDING:
        raise Conflict("This delivery is being sent right now.", field="status")
    if not delivery.endpoint.is_active:
        raise Conflict("The endpoint is disabled; enable it first.", field="status")
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
    _enqueue([delivery.pk])
    return delivery


def webhook_sweep(*, now=None, limit: int = 1000) -> int:
    """Beat job: re-send deliveries that are due but whose task was lost, and those whose
    worker died mid-send (lease expired). Returns how many were re-sent.

    A re-sent pending delivery gets `next_attempt_at = now`, so it is swept again only if
    it is still pending a whole grace period later: behind a backlog the sweep does not
    re-queue the same deliveries every run (that flood of no-op tasks starved the sender)."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=30)
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=grace)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        WebhookDelivery.objects.filter(pk__in=due).update(next_attempt_at=now, updated_at=now)
        stuck = list(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.SENDING, lease_expires_at__lt=now
            ).values_list("pk", flat=True)[:limit]
        )
        _enqueue(due + stuck)
    return len(due) + len(stuck)


def webhook_deliveries_prune(*, now=None) -> int:
    """Beat job: drop finished deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED], created_at__lt=cutoff
    ).delete()
    return deleted
