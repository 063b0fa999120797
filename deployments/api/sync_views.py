"""Repository sync API: the inbound push hook, on-demand sync, stats, settings, agent runs
and exports.

The hook (`POST /api/v1/hooks/git/{repo_id}/`) is not a session or token route: GitHub
calls it, so it is authenticated by the HMAC of its body alone (`X-Hub-Signature-256`).
Everything else is project-scoped like the rest of the pipeline API.
"""

from django.core.files.storage import default_storage
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from common.exceptions import ValidationFailed
from workspaces.viewsets import (
    IDEMPOTENCY_KEY_HEADER,
    ProjectScopedViewSet,
    ScopedListMixin,
    ScopedRetrieveMixin,
)

from .. import selectors
from ..services import agent_runs, exports
from ..services import repo_sync as sync
from ..sync_models import AgentRun, ExportJob, RepoDelivery
from . import sync_serializers as s

HOOK_HEADERS = [
    OpenApiParameter("X-GitHub-Event", str, OpenApiParameter.HEADER, required=True),
    OpenApiParameter("X-GitHub-Delivery", str, OpenApiParameter.HEADER, required=True),
    OpenApiParameter(
        "X-Hub-Signature-256",
        str,
        OpenApiParameter.HEADER,
        required=True,
        description="`sha256=` + hex HMAC-SHA256 of the raw body with the repo's secret.",
    ),
]


class GitHookView(APIView):
    """GitHub's push payload; authenticated by its HMAC signature, not by a session."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=HOOK_HEADERS,
        responses={202: s.HookOutput, 200: s.HookOutput},  # 401: the shared Error schema
        auth=[],
    )
    def post(self, request, repo_id):
        body = request.body
        try:
            delivery, created = sync.hook_receive(
                repo_id=repo_id, body=body, headers=request.headers
            )
        except sync.SignatureInvalid:
            return Response(
                {"detail": "The signature does not match.", "code": "bad_signature"},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        data = {"delivery": delivery.pk, "status": delivery.status, "duplicate": not created}
        return Response(data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class RepoSyncViewSet(ProjectScopedViewSet):
    """A repository's sync state, its deliveries, and sync on demand."""

    lookup_value_converter = "uuid"
    output_serializer = s.RepoSyncStateOutput
    serializer_class = s.RepoSyncStateOutput
    action_roles = {"rotate_secret": Role.ADMIN}

    def scoped_queryset(self, workspace):
        return selectors.repo_list(project=self.project)

    def _repo(self):
        return self.get_object()

    @extend_schema(responses={200: s.RepoSyncStateOutput})
    def state(self, request, **kwargs):
        return self.respond(sync.state_for(repo=self._repo()))

    @extend_schema(request=None, responses={200: s.RepoSyncOutput})
    def sync(self, request, **kwargs):
        repo = self._repo()
        outcome = sync.repo_sync_request(repo=repo)
        state = s.RepoSyncStateOutput(sync.state_for(repo=repo)).data
        return Response({"outcome": outcome, "state": state})

    @extend_schema(request=None, responses={200: s.WebhookSecretOutput})
    def rotate_secret(self, request, **kwargs):
        return Response({"webhook_secret": sync.webhook_secret_rotate(repo=self._repo())})


class RepoDeliveryViewSet(ScopedListMixin, ProjectScopedViewSet):
    """Push deliveries received for a repository, newest first."""

    output_serializer = serializer_class = s.RepoDeliveryOutput

    def scoped_queryset(self, workspace):
        return RepoDelivery.objects.filter(
            repo__project=self.project, repo_id=self.kwargs["repo_id"]
        ).order_by("-created_at")


class ProjectStatsViewSet(ProjectScopedViewSet):
    serializer_class = s.StatsOutput

    @extend_schema(responses={200: s.StatsOutput})
    def stats(self, request, **kwargs):
        stats, source = sync.project_stats(project=self.project)
        return Response({**stats, "source": source})


class ProjectSettingsViewSet(ProjectScopedViewSet):
    serializer_class = s.SettingsOutput

    @extend_schema(responses={200: s.SettingsOutput})
    def retrieve_settings(self, request, **kwargs):
        state = sync.settings_get(project=self.project)
        return Response(
            {
                "settings": state.settings,
                "settings_sha": state.settings_sha,
                "errors": state.errors,
            }  # fmt: skip
        )

    @extend_schema(
        request={
            "application/json": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": True,
                "description": "config.yml keys and their new values (null deletes a key).",
            }
        },
        responses={200: s.SettingsUpdateOutput},
        description="The config.yml keys to change, as JSON (null deletes a key). Committed "
        "to the repository; keys the repository changed since the cache was read keep the "
        "repository's values and come back in `conflicts`.",
    )
    def update_settings(self, request, **kwargs):
        if not isinstance(request.data, dict):
            raise ValidationFailed("Send config.yml keys as a JSON object.", field="settings")
        changes = request.data.get("settings", request.data)
        result = sync.settings_update(project=self.project, changes=changes, actor=request.user)
        return Response(result)


class AgentRunViewSet(ScopedListMixin, ScopedRetrieveMixin, ProjectScopedViewSet):
    """The agent-run queue: queue, list, status, cancel."""

    lookup_value_converter = "uuid"
    output_serializer = serializer_class = s.AgentRunOutput

    def scoped_queryset(self, workspace):
        return AgentRun.objects.filter(project=self.project).order_by("-created_at")

    @extend_schema(
        request=s.AgentRunInput,
        responses={201: s.AgentRunOutput, 200: s.AgentRunOutput},
        parameters=[IDEMPOTENCY_KEY_HEADER],
    )
    def create(self, request, **kwargs):
        data = self.validated(s.AgentRunInput)
        run, created = agent_runs.agent_run_enqueue(
            project=self.project, actor=request.user, idempotency_key=self.idempotency_key(),
            **data,
        )  # fmt: skip
        return self.respond(run, code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: s.AgentRunOutput})
    @action(detail=True, methods=["post"])
    def cancel(self, request, **kwargs):
        run = agent_runs.agent_run_cancel(run=self.get_object(), actor=request.user)
        return self.respond(run)


class ExportJobViewSet(ScopedListMixin, ScopedRetrieveMixin, ProjectScopedViewSet):
    """EPUB and PDF exports of the manuscript; kept 30 days."""

    lookup_value_converter = "uuid"
    output_serializer = serializer_class = s.ExportOutput
    action_roles = {"link": Role.VIEWER}  # a download link is a read

    def scoped_queryset(self, workspace):
        return ExportJob.objects.filter(project=self.project).order_by("-created_at")

    @extend_schema(request=s.ExportInput, responses={201: s.ExportOutput})
    def create(self, request, **kwargs):
        data = self.validated(s.ExportInput)
        job = exports.export_create(project=self.project, actor=request.user, **data)
        return self.respond(job, code=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.ExportLinkOutput})
    @action(detail=True, methods=["post"])
    def link(self, request, **kwargs):
        token, seconds = exports.export_link(job=self.get_object())
        url = reverse("deployments-api:export-download", kwargs={"token": token})
        return Response({"url": request.build_absolute_uri(url), "expires_in": seconds})


class ExportDownloadView(APIView):
    """The short-lived signed link is the credential (like a pre-signed storage URL)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY}, auth=[])
    def get(self, request, token):
        job = exports.export_for_token(token=token)
        content_type = "application/epub+zip" if job.format == "epub" else "application/pdf"
        return FileResponse(
            default_storage.open(job.file_path, "rb"),
            as_attachment=True,
            filename=f"{job.project.slug}.{job.format}",
            content_type=content_type,
        )
