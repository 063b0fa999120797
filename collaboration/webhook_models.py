"""Outbound webhooks (seed 001 `webhooks` + `webhook_deliveries`): per-workspace endpoints
and the delivery outbox/log. Imported by `collaboration.models`; written only by
`collaboration.webhooks`."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import DataClass, data_class

USER = settings.AUTH_USER_MODEL


@data_class(
    DataClass.CRITICAL,
    tenant="workspace",
    reason="Where a workspace's events are sent (URL, event types, signing secrets).",
)
class WebhookEndpoint(BaseModel):
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    # Standard Webhooks signing secrets (`whsec_` + base64). They must be kept to sign;
    # the API shows a secret once (on create and on rotation), history never records them.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords(excluded_fields=["secret", "previous_secret"])

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (no more retries)"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="workspace",
    backup=True,
    reason=(
        "The outbox and delivery log: an event's delivery to one endpoint (payload, "
        "status, attempts, last response); pruned after WEBHOOK_DELIVERY_RETENTION_DAYS."
    ),
)
class WebhookDelivery(BaseModel):
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=64)  # `webhook-id`: stable across retries
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()  # the body: {type, timestamp, data}
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due"),
            models.Index(fields=["endpoint", "created_at"], name="webhookdelivery_endpoint"),
            models.Index(fields=["updated_at"], name="webhookdelivery_updated_at"),  # deltas
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "message_id"],
                name="webhookdelivery_unique_message",
                violation_error_message="This event is already queued for this endpoint.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.message_id} -> {self.endpoint_id} ({self.status})"
