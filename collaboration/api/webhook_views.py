"""Outbound webhooks under /api/v1/workspaces/{slug}/webhooks/: endpoints (the secret is
shown once, on create and on rotation), their delivery log, and replay. Registering,
changing, rotating, removing and replaying need the admin or owner role: an endpoint
sends the workspace's events outside. Reading them (never the secret) is open to
every member and viewer, as the rest of the workspace is."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Role
from common.events import EVENT_TYPES
from workspaces.viewsets import ScopedListMixin, ScopedRetrieveMixin, WorkspaceScopedViewSet

from .. import webhooks
from ..models import WebhookDelivery, WebhookEndpoint

EVENT_CHOICES = ["*", *EVENT_TYPES]


class WebhookInput(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, max_length=20
    )
    description = serializers.CharField(max_length=200, required=False, default="",
                                        allow_blank=True)  # fmt: skip


class WebhookUpdateInput(serializers.Serializer):
    url = serializers.URLField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), min_length=1, max_length=20,
        required=False,
    )  # fmt: skip
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class WebhookOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "description", "is_active", "disabled_reason",
                  "previous_secret_expires_at", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.CharField(help_text="`whsec_` + base64; shown only in this reply.")

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]
        read_only_fields = fields


class DeliveryOutput(serializers.ModelSerializer):
    endpoint = serializers.UUIDField(source="endpoint_id", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "message_id", "event_type", "payload", "status",
                  "attempts", "response_status", "latency_ms", "last_error",
                  "last_attempt_at", "next_attempt_at", "delivered_at", "created_at"]  # fmt: skip
        read_only_fields = fields


def _created(endpoint, secret) -> dict:
    data = WebhookOutput(endpoint).data
    data["secret"] = secret
    return data


class WebhookViewSet(ScopedListMixin, ScopedRetrieveMixin, WorkspaceScopedViewSet):
    serializer_class = output_serializer = WebhookOutput
    lookup_value_converter = "uuid"
    write_role = Role.ADMIN

    def scoped_queryset(self, workspace):
        return WebhookEndpoint.objects.filter(workspace=workspace)

    @extend_schema(request=WebhookInput, responses={201: WebhookCreatedOutput})
    def create(self, request, **kwargs):
        data = self.validated(WebhookInput)
        endpoint, secret = webhooks.webhook_create(workspace=self.workspace, actor=request.user,
                                                   **data)  # fmt: skip
        return Response(_created(endpoint, secret), status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookUpdateInput, responses={200: WebhookOutput})
    def partial_update(self, request, **kwargs):
        endpoint = self.get_object()
        data = self.validated(WebhookUpdateInput)
        return self.respond(webhooks.webhook_update(endpoint=endpoint, actor=request.user, **data))

    @extend_schema(responses={204: None})
    def destroy(self, request, **kwargs):
        webhooks.webhook_delete(endpoint=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: WebhookCreatedOutput})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, **kwargs):
        """A new secret, shown once; the previous one keeps signing during the overlap."""
        endpoint, secret = webhooks.webhook_rotate_secret(
            endpoint=self.get_object(), actor=request.user
        )
        return Response(_created(endpoint, secret))

    @extend_schema(responses={200: DeliveryOutput(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, **kwargs):
        endpoint = self.get_object()
        return self.paginated(endpoint.deliveries.all(), serializer=DeliveryOutput)


class WebhookDeliveryViewSet(WorkspaceScopedViewSet):
    serializer_class = output_serializer = DeliveryOutput
    write_role = Role.ADMIN

    def scoped_queryset(self, workspace):
        return WebhookDelivery.objects.filter(
            workspace=workspace, endpoint_id=self.kwargs["webhook_id"]
        )

    @extend_schema(request=None, responses={202: DeliveryOutput})
    def replay(self, request, **kwargs):
        """Send this delivery again with the same `webhook-id`."""
        delivery = webhooks.delivery_replay(delivery=self.get_object(), actor=request.user)
        return self.respond(delivery, code=status.HTTP_202_ACCEPTED)
