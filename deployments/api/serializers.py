"""Shipping-pipeline serializers: inputs validate, outputs render; none of them writes."""

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from common.fields import Base64Field, JSONValueField, NonEmptyDictField, WebUrlField

from ..models import (
    Approval,
    ApprovalScope,
    Artifact,
    Deployment,
    DeploymentStatus,
    Environment,
    InfraResource,
    Preview,
    PreviewVersion,
    PreviewVisibility,
    Repo,
    RepoProvider,
    Run,
    RunStatus,
    RunStep,
    SandboxJob,
    SandboxJobType,
    StepStatus,
)

NAME = r"^[A-Za-z0-9_.\-]{1,100}$"


class ApprovalField(serializers.UUIDField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault(
            "help_text",
            "Id of the approved approval for this exact body (the body without this field).",
        )
        super().__init__(**kwargs)


# --- repos -----------------------------------------------------------------------


class RepoInput(serializers.Serializer):
    provider = serializers.ChoiceField(choices=RepoProvider.choices)
    owner = serializers.RegexField(NAME)
    name = serializers.RegexField(NAME)
    default_branch = serializers.CharField(max_length=255, required=False, default="main")
    html_url = WebUrlField(max_length=500, required=False, allow_blank=True)
    clone_url = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    metadata = serializers.DictField(required=False, default=dict)


class RepoUpdateInput(serializers.Serializer):
    default_branch = serializers.CharField(max_length=255, required=False)
    html_url = WebUrlField(max_length=500, required=False, allow_blank=True)
    clone_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    metadata = serializers.DictField(required=False)


class RepoOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Repo
        fields = [
            "id",
            "project",
            "provider",
            "owner",
            "name",
            "default_branch",
            "html_url",
            "clone_url",
            "metadata",
            "created_by",
            "created_at",
            "updated_at",
        ]


class IdempotentStepFields(serializers.Serializer):
    run = serializers.UUIDField(required=False, allow_null=True)
    step_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    approval = ApprovalField()

    def validate(self, attrs):
        if attrs.get("step_id") and not attrs.get("run"):
            raise serializers.ValidationError({"run": ["A step_id needs its run."]})
        return attrs


class RepoPushInput(IdempotentStepFields):
    branch = serializers.CharField(max_length=255)
    files = NonEmptyDictField(help_text="Path → new content of each file.")
    message = serializers.CharField(max_length=2000)


class RepoMergeInput(IdempotentStepFields):
    head = serializers.CharField(max_length=255)
    base = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    message = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SideEffectOutput(serializers.Serializer):
    result = serializers.JSONField()
    replayed = serializers.BooleanField(help_text="True when a succeeded step was replayed.")


# --- runs and steps ----------------------------------------------------------------


class RunInput(serializers.Serializer):
    kind = serializers.CharField(max_length=64)
    metadata = serializers.DictField(required=False, default=dict)


class RunTransitionInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=RunStatus.choices)


class RunOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "project",
            "kind",
            "status",
            "started_at",
            "ended_at",
            "metadata",
            "created_by",
            "created_at",
            "updated_at",
        ]


class StepInput(serializers.Serializer):
    step_id = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=StepStatus.choices)
    input = serializers.DictField(required=False, allow_null=True, default=None)
    output = serializers.DictField(required=False, allow_null=True, default=None)
    error = serializers.CharField(required=False, allow_blank=True, default="")


class StepOutput(serializers.ModelSerializer):
    run = serializers.UUIDField(source="run_id", read_only=True)

    class Meta:
        model = RunStep
        fields = [
            "id",
            "run",
            "step_id",
            "name",
            "status",
            "input",
            "output",
            "error",
            "attempts",
            "started_at",
            "ended_at",
            "created_at",
            "updated_at",
        ]


# --- artifacts -------------------------------------------------------------------------


class ArtifactFilterInput(serializers.Serializer):
    kind = serializers.CharField(required=False, max_length=64, help_text="Only this kind.")
    logical_key = serializers.CharField(
        required=False, max_length=255, help_text="Only this logical key."
    )
    latest = serializers.BooleanField(
        required=False, default=False, help_text="Only the newest version of each key."
    )


class ArtifactInput(serializers.Serializer):
    kind = serializers.CharField(max_length=64)
    logical_key = serializers.CharField(max_length=255)
    content = serializers.JSONField(
        required=False,
        help_text="The content: a string is stored as UTF-8 text, anything else as JSON.",
    )
    content_base64 = Base64Field(
        required=False, help_text="Binary content, base64-encoded (instead of `content`)."
    )
    content_type = serializers.CharField(max_length=100, required=False, allow_blank=True)
    run = serializers.UUIDField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False, default=dict)

    def validate(self, attrs):
        if ("content" in attrs) == ("content_base64" in attrs):
            raise serializers.ValidationError(
                {"content": ["Send exactly one of content and content_base64."]}
            )
        return attrs


class _ArtifactTextInput(ArtifactInput):
    content = serializers.JSONField(
        help_text="The content: a string is stored as UTF-8 text, anything else as JSON."
    )
    content_base64 = None


class _ArtifactBinaryInput(ArtifactInput):
    content = None
    content_base64 = Base64Field(help_text="Binary content, base64-encoded.")


# The schema says what ArtifactInput checks: exactly one of `content` and `content_base64`.
ARTIFACT_INPUT_SCHEMA = PolymorphicProxySerializer(
    component_name="ArtifactInput",
    serializers=[_ArtifactTextInput, _ArtifactBinaryInput],
    resource_type_field_name=None,
)


class ArtifactOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    run = serializers.UUIDField(source="run_id", read_only=True, allow_null=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Artifact
        fields = [
            "id",
            "project",
            "run",
            "kind",
            "logical_key",
            "version",
            "content_type",
            "sha256",
            "size",
            "metadata",
            "created_by",
            "created_at",
        ]


# --- approvals ----------------------------------------------------------------------------


class ApprovalInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=ApprovalScope.choices)
    payload = serializers.DictField(
        help_text="The exact JSON body of the action this approval will allow (without `approval`)."
    )
    intent_summary = serializers.CharField(max_length=500)
    run = serializers.UUIDField(required=False, allow_null=True)
    step = serializers.UUIDField(required=False, allow_null=True)
    expires_in = serializers.IntegerField(required=False, min_value=1)
    metadata = serializers.DictField(required=False, default=dict)


class DecisionInput(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ApprovalOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    run = serializers.UUIDField(source="run_id", read_only=True, allow_null=True)
    step = serializers.UUIDField(source="step_id", read_only=True, allow_null=True)
    requested_by = serializers.UUIDField(source="requested_by_id", read_only=True)
    approved_by = serializers.UUIDField(source="approved_by_id", read_only=True, allow_null=True)
    rejected_by = serializers.UUIDField(source="rejected_by_id", read_only=True, allow_null=True)
    used_by = serializers.UUIDField(source="used_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Approval
        fields = [
            "id",
            "project",
            "run",
            "step",
            "scope",
            "intent_summary",
            "payload",
            "payload_sha256",
            "status",
            "requested_by",
            "approved_by",
            "approved_at",
            "rejected_by",
            "rejected_at",
            "decision_note",
            "expires_at",
            "used_at",
            "used_by",
            "used_for",
            "metadata",
            "created_at",
            "updated_at",
        ]


# --- sandbox jobs ------------------------------------------------------------------------


class SandboxJobInput(serializers.Serializer):
    job_type = serializers.ChoiceField(choices=SandboxJobType.choices)
    command = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        default=list,
        help_text="argv, run without a shell. repo.clone with a repo may leave it empty.",
    )
    run = serializers.UUIDField(required=False, allow_null=True)
    step = serializers.UUIDField(required=False, allow_null=True)
    repo = serializers.UUIDField(required=False, allow_null=True)
    timeout_seconds = serializers.IntegerField(required=False, min_value=1)
    env = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    metadata = serializers.DictField(required=False, default=dict)


class SandboxJobOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    run = serializers.UUIDField(source="run_id", read_only=True, allow_null=True)
    step = serializers.UUIDField(source="step_id", read_only=True, allow_null=True)
    repo = serializers.UUIDField(source="repo_id", read_only=True, allow_null=True)
    retry_of = serializers.UUIDField(source="retry_of_id", read_only=True, allow_null=True)
    requested_by = serializers.UUIDField(source="requested_by_id", read_only=True, allow_null=True)
    transcript_stored = serializers.SerializerMethodField()

    class Meta:
        model = SandboxJob
        fields = [
            "id",
            "project",
            "run",
            "step",
            "repo",
            "retry_of",
            "job_type",
            "status",
            "command",
            "env",
            "timeout_seconds",
            "started_at",
            "ended_at",
            "attempts",
            "exit_code",
            "transcript",
            "transcript_truncated",
            "transcript_stored",
            "transcript_bytes",
            "transcript_sha256",
            "metadata",
            "requested_by",
            "created_at",
            "updated_at",
        ]

    def get_transcript_stored(self, job) -> bool:
        return bool(job.transcript_path)


# --- deployments -----------------------------------------------------------------------------


class DeploymentInput(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices)
    commit_sha = serializers.CharField(max_length=64)
    repo = serializers.UUIDField(required=False, allow_null=True)
    run = serializers.UUIDField(required=False, allow_null=True)
    ref = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    metadata = serializers.DictField(required=False, default=dict)
    approval = ApprovalField()


class DeploymentTransitionInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeploymentStatus.choices)
    error = serializers.CharField(required=False, allow_blank=True, default="")


class DeploymentOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    deployment_url = serializers.CharField(
        source="url", read_only=True, help_text="Where the deployment is served (once ready)."
    )
    run = serializers.UUIDField(source="run_id", read_only=True, allow_null=True)
    repo = serializers.UUIDField(source="repo_id", read_only=True, allow_null=True)
    approval = serializers.UUIDField(source="approval_id", read_only=True, allow_null=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "project",
            "run",
            "repo",
            "environment",
            "provider",
            "external_project_id",
            "external_deployment_id",
            "url",
            "deployment_url",
            "status",
            "commit_sha",
            "started_at",
            "ended_at",
            "error",
            "metadata",
            "approval",
            "created_by",
            "created_at",
            "updated_at",
        ]


# --- previews ------------------------------------------------------------------------------


class PreviewInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=64)
    visibility = serializers.ChoiceField(
        choices=PreviewVisibility.choices, required=False, default=PreviewVisibility.TEAM
    )


class PreviewUpdateInput(serializers.Serializer):
    visibility = serializers.ChoiceField(choices=PreviewVisibility.choices)


class PreviewOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    workspace = serializers.UUIDField(source="workspace_id", read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Preview
        fields = [
            "id",
            "slug",
            "workspace",
            "project",
            "active_version",
            "visibility",
            "url",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def get_url(self, preview) -> str:
        return f"/p/{preview.slug}/"


class PreviewVersionInput(serializers.Serializer):
    content = JSONValueField(help_text='Any JSON but null; {"html": "…"} is served as a page.')
    activate = serializers.BooleanField(required=False, default=True)


class PreviewVersionOutput(serializers.ModelSerializer):
    preview = serializers.UUIDField(source="preview_id", read_only=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = PreviewVersion
        fields = [
            "id",
            "preview",
            "version",
            "content_type",
            "sha256",
            "size",
            "created_by",
            "created_at",
        ]


class RollbackInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


# --- infrastructure ------------------------------------------------------------------------


class InfraInput(serializers.Serializer):
    resource_type = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    region = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    config = serializers.DictField(required=False, default=dict)
    run = serializers.UUIDField(required=False, allow_null=True)
    approval = ApprovalField()


class InfraOutput(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    run = serializers.UUIDField(source="run_id", read_only=True, allow_null=True)
    approval = serializers.UUIDField(source="approval_id", read_only=True, allow_null=True)
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = InfraResource
        fields = [
            "id",
            "project",
            "run",
            "provider",
            "resource_type",
            "name",
            "external_id",
            "region",
            "status",
            "metadata",
            "approval",
            "created_by",
            "created_at",
            "updated_at",
        ]
