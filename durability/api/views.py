"""Durability endpoints: a workspace's backups (viewer) and point-in-time restore (admin)."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import Role
from common.fields import LabelChoiceField
from durability import services
from durability.models import BackupRecord
from durability.selectors import backup_health, workspace_backups
from workspaces.viewsets import WorkspaceScopedViewSet


class BackupRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = BackupRecord
        fields = [
            "backup_id",
            "taken_at",
            "finished_at",
            "status",
            "trigger",
            "row_count",
            "byte_count",
            "file_count",
            "app_version",
            "verify_status",
            "verified_at",
        ]


# One object (the health and the records), not an array of them, although `list` answers it.
@extend_schema_serializer(many=False)
class BackupListSerializer(serializers.Serializer):
    last_successful = BackupRecordSerializer(allow_null=True)
    last_successful_age_seconds = serializers.IntegerField(allow_null=True)
    interval_seconds = serializers.IntegerField()
    stale = serializers.BooleanField()
    results = BackupRecordSerializer(many=True)


class BackupViewSet(WorkspaceScopedViewSet):
    """`GET …/backups/`: the workspace's backups, newest first, and whether they are stale."""

    serializer_class = BackupRecordSerializer
    tenant_id_field = "workspace_id_scope"
    pagination_class = None

    def scoped_queryset(self, workspace):
        return workspace_backups(workspace)

    @extend_schema(
        summary="The workspace's backups and backup health (stale = older than 2× the interval)",
        responses={200: BackupListSerializer},
    )
    def list(self, request, *args, **kwargs):
        health = backup_health(self.workspace)
        records = list(self.get_queryset()[:200])
        data = {
            "last_successful": health.last_successful,
            "last_successful_age_seconds": health.age_seconds,
            "interval_seconds": health.interval_seconds,
            "stale": health.stale,
            "results": records,
        }
        return Response(BackupListSerializer(data).data)


class RestorePointInput(serializers.Serializer):
    at = serializers.DateTimeField()
    model = LabelChoiceField(
        services.restorable_models,
        required=False,
        help_text="Only this model (app_label.ModelName).",
    )
    object_id = serializers.UUIDField(required=False)

    def validate(self, attrs):
        if attrs.get("object_id") and not attrs.get("model"):
            raise serializers.ValidationError({"model": ["Name the model of the object."]})
        return attrs


class RestorePointViewSet(WorkspaceScopedViewSet):
    """`POST …/restore-point/`: put one object or the whole workspace back as it was at `at`."""

    serializer_class = RestorePointInput
    action_roles = {"create": Role.ADMIN}
    tenant_id_field = "workspace_id_scope"

    def scoped_queryset(self, workspace):
        return BackupRecord.objects.none()

    @extend_schema(
        summary="Point-in-time restore from history (admin/owner); writes new versions",
        request=RestorePointInput,
        responses={
            200: inline_serializer(
                "RestorePointResult",
                {
                    "restored": serializers.ListField(child=serializers.DictField()),
                    "unchanged": serializers.IntegerField(),
                    "not_at_that_time": serializers.ListField(child=serializers.DictField()),
                    "refused": serializers.ListField(child=serializers.DictField()),
                },
            )
        },
    )
    def create(self, request, *args, **kwargs):
        payload = RestorePointInput(data=request.data)
        payload.is_valid(raise_exception=True)
        report = services.restore_point(
            workspace=self.workspace,
            actor=request.user,
            at=payload.validated_data["at"],
            model=payload.validated_data.get("model"),
            object_id=payload.validated_data.get("object_id"),
        )
        return Response(report, status=status.HTTP_200_OK)
