from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser

from governance.durability.models import BackupRecord
from governance.durability.selectors import list_backups


class BackupRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = BackupRecord
        fields = [
            "id",
            "created_at",
            "finished_at",
            "verified_at",
            "status",
            "location",
            "workspace_id_scope",
            "row_count",
            "byte_count",
            "app_version",
        ]


@extend_schema(summary="Recorded backups, newest first (staff only)")
class BackupListView(ListAPIView):
    serializer_class = BackupRecordSerializer
    permission_classes = [IsAdminUser]

    def get_queryset(self):
        return list_backups()
