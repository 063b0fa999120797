"""Serializers of repository sync, stats, settings, agent runs and exports."""

from rest_framework import serializers

from ..sync_models import AgentRun, ExportFormat, ExportJob, RepoDelivery, RepoSyncState


class RepoSyncStateOutput(serializers.ModelSerializer):
    repo = serializers.UUIDField(source="repo_id", read_only=True)

    class Meta:
        model = RepoSyncState
        fields = ["repo", "head_sha", "status", "errors", "synced_at", "settings_sha",
                  "stats_source", "updated_at"]  # fmt: skip


class RepoSyncOutput(serializers.Serializer):
    outcome = serializers.CharField()
    state = RepoSyncStateOutput()


class RepoDeliveryOutput(serializers.ModelSerializer):
    class Meta:
        model = RepoDelivery
        fields = ["id", "delivery_id", "event", "ref", "before", "after", "forced", "status",
                  "detail", "created_at", "updated_at"]  # fmt: skip


class HookOutput(serializers.Serializer):
    delivery = serializers.UUIDField()
    status = serializers.CharField()
    duplicate = serializers.BooleanField()


class WebhookSecretOutput(serializers.Serializer):
    webhook_secret = serializers.CharField()


class StatsOutput(serializers.Serializer):
    """Seed 001's stats.json plus `source`."""

    source = serializers.ChoiceField(choices=["database", "repository"])
    version = serializers.CharField(required=False)
    project = serializers.DictField(required=False)
    current = serializers.DictField()
    breakdown = serializers.DictField(required=False)
    history = serializers.ListField(child=serializers.DictField(), required=False)
    streaks = serializers.DictField(required=False)
    generated_by = serializers.CharField(required=False)
    generated_at = serializers.CharField(required=False)


class SettingsOutput(serializers.Serializer):
    settings = serializers.DictField(help_text="config.yml as JSON (the cached copy).")
    settings_sha = serializers.CharField(allow_blank=True)
    errors = serializers.ListField(child=serializers.DictField())


class SettingsUpdateOutput(serializers.Serializer):
    settings = serializers.DictField()
    commit_sha = serializers.CharField(allow_null=True)
    conflicts = serializers.ListField(
        child=serializers.DictField(),
        help_text="Keys the repository changed since the cache was read: its values stand.",
    )


class AgentRunInput(serializers.Serializer):
    agent = serializers.RegexField(r"^[a-z][a-z0-9_\-]{0,49}$")
    trigger = serializers.ChoiceField(choices=["manual", "commit", "pr"], default="manual")
    trigger_ref = serializers.CharField(
        max_length=100, required=False, default="", allow_blank=True
    )
    priority = serializers.IntegerField(min_value=-100, max_value=100, default=0)
    max_attempts = serializers.IntegerField(min_value=1, max_value=10, default=3)


class AgentRunOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)

    class Meta:
        model = AgentRun
        fields = ["id", "project", "agent", "trigger", "trigger_ref", "priority", "status",
                  "attempts", "max_attempts", "run_after", "started_at", "finished_at",
                  "result", "error", "result_path", "result_commit", "created_at",
                  "updated_at"]  # fmt: skip


class ExportInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)


class ExportOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)

    class Meta:
        model = ExportJob
        fields = ["id", "project", "format", "status", "progress", "commit_sha", "size",
                  "sha256", "error", "expires_at", "created_at", "updated_at"]  # fmt: skip


class ExportLinkOutput(serializers.Serializer):
    url = serializers.CharField()
    expires_in = serializers.IntegerField()


def _repo_connect_output():
    from .serializers import RepoOutput

    class RepoConnectOutput(RepoOutput):
        webhook_secret = serializers.CharField(
            read_only=True,
            help_text="Shown once: the secret GitHub signs push deliveries with "
            "(X-Hub-Signature-256).",
        )

        class Meta(RepoOutput.Meta):
            fields = [*RepoOutput.Meta.fields, "webhook_secret"]

    return RepoConnectOutput


RepoConnectOutput = _repo_connect_output()
