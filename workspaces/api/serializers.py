"""Workspace and project serializers."""

from rest_framework import serializers

from ..models import Project, ProjectStatus, Workspace


class WorkspaceInput(serializers.Serializer):
    team = serializers.UUIDField(help_text="The owning team's id.")
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=64)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class WorkspaceUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class WorkspaceOutput(serializers.ModelSerializer):
    team = serializers.UUIDField(source="team_id", read_only=True)

    class Meta:
        model = Workspace
        fields = ["id", "team", "name", "slug", "description", "created_at", "updated_at"]


class ProjectInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=64)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ProjectUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    slug = serializers.SlugField(max_length=64, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=ProjectStatus.choices, required=False)


class ProjectOutput(serializers.ModelSerializer):
    workspace = serializers.CharField(source="workspace.slug", read_only=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "workspace",
            "name",
            "slug",
            "description",
            "status",
            "created_at",
            "updated_at",
        ]
