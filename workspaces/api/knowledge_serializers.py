"""Project file and skill serializers."""

from rest_framework import serializers

from common.fields import Base64Field

from ..models import ProjectFile, ProjectSkill


class FileUploadInput(serializers.Serializer):
    """A multipart upload: the file in field `file`."""

    file = serializers.FileField(help_text="The file.")
    content_type = serializers.CharField(required=False, allow_blank=True, max_length=100)


class FileJSONUploadInput(serializers.Serializer):
    """A JSON upload for API clients: the bytes base64-encoded."""

    name = serializers.CharField(max_length=255)
    content_base64 = Base64Field(help_text="The bytes, base64 (RFC 4648, with padding).")
    content_type = serializers.CharField(required=False, allow_blank=True, max_length=100)


class FileOutput(serializers.ModelSerializer):
    uploaded_by = serializers.UUIDField(source="uploaded_by_id", read_only=True, allow_null=True)
    project = serializers.UUIDField(source="project_id", read_only=True)

    class Meta:
        model = ProjectFile
        fields = [
            "id",
            "project",
            "name",
            "size",
            "sha256",
            "status",
            "extraction_version",
            "failure_reason",
            "content_type",
            "page_count",
            "uploaded_by",
            "created_at",
            "updated_at",
        ]


class SkillInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    content = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="SKILL.md, frontmatter optional."
    )
    metadata = serializers.DictField(required=False, default=dict)


class SkillUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    content = serializers.CharField(required=False, allow_blank=True)
    metadata = serializers.DictField(required=False)


class SkillOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)

    class Meta:
        model = ProjectSkill
        fields = [
            "id",
            "project",
            "name",
            "name_norm",
            "description",
            "content",
            "metadata",
            "created_at",
            "updated_at",
        ]


class SkillHistoryOutput(serializers.Serializer):
    history_id = serializers.UUIDField()
    history_date = serializers.DateTimeField()
    history_type = serializers.CharField(help_text="+ created, ~ changed, - deleted")
    history_change_reason = serializers.CharField(allow_null=True)
    history_user = serializers.UUIDField(source="history_user_id", allow_null=True)
    name = serializers.CharField()
    description = serializers.CharField()
    content = serializers.CharField()
