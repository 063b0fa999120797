"""Shipping-pipeline API under /api/v1/workspaces/{slug}/projects/{project_id}/.

Every view is a ProjectScopedViewSet: the workspace, the caller's role and the
project are resolved before any handler runs, and every queryset starts from
the project. Views validate input and call one service.
"""

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Role
from common.exceptions import ValidationFailed
from common.fields import query_data
from workspaces.viewsets import (
    IDEMPOTENCY_KEY_HEADER,
    ProjectScopedViewSet,
    ScopedListMixin,
    ScopedRetrieveMixin,
)

from .. import selectors, services
from ..export import stream_export
from ..models import Repo, Run, RunStep
from ..services import repo_sync
from . import serializers as s
from .sync_serializers import RepoConnectOutput


def _action_payload(request) -> dict:
    """The body the approval covers: everything the client sent except `approval`."""
    data = request.data if isinstance(request.data, dict) else request.data.dict()
    return {k: v for k, v in data.items() if k != "approval"}


class PipelineViewSet(ScopedListMixin, ScopedRetrieveMixin, ProjectScopedViewSet):
    lookup_value_converter = "uuid"
    output_serializer = None

    def _related(self, model, pk, field: str):
        """A run, step or repo of this project by id, or a 400 on `field`."""
        if pk is None:
            return None
        if model is RunStep:
            obj = model.objects.filter(run__project=self.project, pk=pk).first()
        else:
            obj = model.objects.filter(project=self.project, pk=pk).first()
        if obj is None:
            raise ValidationFailed(f"No {model._meta.verbose_name} with this id here.", field=field)
        return obj


# --- repos ---------------------------------------------------------------------------------


class RepoViewSet(PipelineViewSet):
    """Repositories connected to the project; push and merge need an approval."""

    serializer_class = output_serializer = s.RepoOutput

    def scoped_queryset(self, workspace):
        return selectors.repo_list(project=self.project)

    @extend_schema(request=s.RepoInput, responses={201: RepoConnectOutput})
    def create(self, request, **kwargs):
        data = self.validated(s.RepoInput)
        repo = services.repo_connect(project=self.project, actor=request.user, **data)
        response = self.respond(repo, code=status.HTTP_201_CREATED)
        response.data["webhook_secret"] = repo_sync.webhook_secret(repo=repo)  # shown once
        return response

    @extend_schema(request=s.RepoUpdateInput, responses={200: s.RepoOutput})
    def partial_update(self, request, **kwargs):
        repo = self.get_object()
        data = self.validated(s.RepoUpdateInput, partial=True)
        return self.respond(services.repo_update(repo=repo, actor=request.user, **data))

    @extend_schema(request=s.RepoPushInput, responses={200: s.SideEffectOutput})
    @action(detail=True, methods=["post"])
    def push(self, request, **kwargs):
        repo = self.get_object()
        data = self.validated(s.RepoPushInput)
        result, replayed = services.repo_push(
            repo=repo,
            branch=data["branch"],
            files=data["files"],
            message=data["message"],
            actor=request.user,
            approval_id=data.get("approval"),
            payload=_action_payload(request),
            run=self._related(Run, data.get("run"), "run"),
            step_id=data["step_id"],
        )
        return Response({"result": result, "replayed": replayed})

    @extend_schema(request=s.RepoMergeInput, responses={200: s.SideEffectOutput})
    @action(detail=True, methods=["post"])
    def merge(self, request, **kwargs):
        repo = self.get_object()
        data = self.validated(s.RepoMergeInput)
        result, replayed = services.repo_merge(
            repo=repo,
            head=data["head"],
            base=data["base"],
            message=data["message"],
            actor=request.user,
            approval_id=data.get("approval"),
            payload=_action_payload(request),
            run=self._related(Run, data.get("run"), "run"),
            step_id=data["step_id"],
        )
        return Response({"result": result, "replayed": replayed})


# --- runs and steps ------------------------------------------------------------------------


class RunViewSet(PipelineViewSet):
    """Workflow runs and their idempotent steps."""

    serializer_class = output_serializer = s.RunOutput

    def scoped_queryset(self, workspace):
        return selectors.run_list(project=self.project)

    @extend_schema(
        request=s.RunInput,
        responses={201: s.RunOutput, 200: s.RunOutput},
        parameters=[IDEMPOTENCY_KEY_HEADER],
    )
    def create(self, request, **kwargs):
        data = self.validated(s.RunInput)
        run, created = services.run_create(
            project=self.project,
            kind=data["kind"],
            metadata=data["metadata"],
            actor=request.user,
            idempotency_key=self.idempotency_key(),
        )
        return self.respond(run, code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=s.RunTransitionInput, responses={200: s.RunOutput})
    @action(detail=True, methods=["post"])
    def transition(self, request, **kwargs):
        run = self.get_object()
        data = self.validated(s.RunTransitionInput)
        return self.respond(
            services.run_transition(run=run, status=data["status"], actor=request.user)
        )

    @extend_schema(methods=["GET"], responses={200: s.StepOutput(many=True)})
    @extend_schema(
        methods=["POST"],
        request=s.StepInput,
        responses={201: s.StepOutput, 200: s.StepOutput},
        description="Record a step. A step that already succeeded is returned as stored (200) "
        "and nothing changes.",
    )
    @action(detail=True, methods=["get", "post"])
    def steps(self, request, **kwargs):
        run = self.get_object()
        if request.method == "GET":
            return self.paginated(selectors.step_list(run=run), serializer=s.StepOutput)
        data = self.validated(s.StepInput)
        step, replayed = services.step_record(run=run, actor=request.user, **data)
        code = status.HTTP_200_OK if replayed else status.HTTP_201_CREATED
        return self.respond(step, serializer=s.StepOutput, code=code)


# --- artifacts -----------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(parameters=[s.ArtifactFilterInput]))
class ArtifactViewSet(PipelineViewSet):
    """Versioned artifacts; `export.zip` streams the latest version of each."""

    serializer_class = output_serializer = s.ArtifactOutput

    def scoped_queryset(self, workspace):
        if self.action != "list":
            return selectors.artifact_list(project=self.project)
        params = self.validated(s.ArtifactFilterInput, data=query_data(self.request))
        return selectors.artifact_list(project=self.project, **params)

    @extend_schema(request=s.ARTIFACT_INPUT_SCHEMA, responses={201: s.ArtifactOutput})
    def create(self, request, **kwargs):
        data = self.validated(s.ArtifactInput)
        if "content_base64" in data:
            content = data["content_base64"]
            content_type = data.get("content_type") or "application/octet-stream"
        elif isinstance(data["content"], str):
            content = data["content"].encode("utf-8")
            content_type = data.get("content_type") or "text/plain; charset=utf-8"
        else:
            content = services.canonical_json(data["content"])
            content_type = data.get("content_type") or "application/json"
        artifact = services.artifact_create(
            project=self.project,
            kind=data["kind"],
            logical_key=data["logical_key"],
            content=content,
            content_type=content_type,
            run=self._related(Run, data.get("run"), "run"),
            metadata=data["metadata"],
            actor=request.user,
        )
        return self.respond(artifact, code=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "*/*"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The stored bytes, sent with the content type the artifact was "
                "created with (`content_type`); errors are JSON (`Error`).",
            ),
            # An artifact created from JSON `content` is served as that JSON, any value.
            (200, "application/json"): OpenApiResponse(OpenApiTypes.ANY),
        }
    )
    @action(detail=True, methods=["get"])
    def download(self, request, **kwargs):
        artifact = self.get_object()
        selectors.read_blob(artifact.blob_path, sha256=artifact.sha256)  # refuses a corrupt blob
        response = FileResponse(
            default_storage.open(artifact.blob_path, "rb"), content_type=artifact.content_type
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{artifact.kind}-v{artifact.version}"'
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(detail=False, methods=["get"], url_path="export.zip")
    def export(self, request, **kwargs):
        artifacts = selectors.artifact_latest(project=self.project)
        response = StreamingHttpResponse(
            stream_export(project=self.project, artifacts=artifacts.iterator()),
            content_type="application/zip",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{self.project.slug}-artifacts.zip"'
        )
        return response


# --- approvals -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR),
            OpenApiParameter("scope", OpenApiTypes.STR),
        ]
    )
)
class ApprovalViewSet(PipelineViewSet):
    """Approval requests; deciding needs the admin or owner role (and not being the requester)."""

    serializer_class = output_serializer = s.ApprovalOutput
    action_roles = {"approve": Role.ADMIN, "reject": Role.ADMIN}

    def scoped_queryset(self, workspace):
        params = self.request.query_params if self.action == "list" else {}
        return selectors.approval_list(
            project=self.project, status=params.get("status"), scope=params.get("scope")
        )

    @extend_schema(
        request=s.ApprovalInput,
        responses={201: s.ApprovalOutput, 200: s.ApprovalOutput},
        parameters=[IDEMPOTENCY_KEY_HEADER],
    )
    def create(self, request, **kwargs):
        data = self.validated(s.ApprovalInput)
        run = self._related(Run, data.get("run"), "run")
        approval, created = services.approval_request(
            project=self.project,
            scope=data["scope"],
            payload=data["payload"],
            intent_summary=data["intent_summary"],
            run=run,
            step=self._related(RunStep, data.get("step"), "step"),
            expires_in=data.get("expires_in"),
            metadata=data["metadata"],
            actor=request.user,
            idempotency_key=self.idempotency_key(),
        )
        return self.respond(
            approval, code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(request=s.DecisionInput, responses={200: s.ApprovalOutput})
    @action(detail=True, methods=["post"])
    def approve(self, request, **kwargs):
        approval = self.get_object()
        data = self.validated(s.DecisionInput)
        return self.respond(
            services.approval_approve(approval=approval, actor=request.user, note=data["note"])
        )

    @extend_schema(request=s.DecisionInput, responses={200: s.ApprovalOutput})
    @action(detail=True, methods=["post"])
    def reject(self, request, **kwargs):
        approval = self.get_object()
        data = self.validated(s.DecisionInput)
        return self.respond(
            services.approval_reject(approval=approval, actor=request.user, note=data["note"])
        )


# --- sandbox jobs ---------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("status", OpenApiTypes.STR)]))
class SandboxJobViewSet(PipelineViewSet):
    """Sandbox jobs: queued here, run by a Celery worker inside bubblewrap. A job runs
    arbitrary commands, so creating or retrying one needs the admin or owner role."""

    serializer_class = output_serializer = s.SandboxJobOutput
    action_roles = {"create": Role.ADMIN, "retry": Role.ADMIN}

    def scoped_queryset(self, workspace):
        params = self.request.query_params if self.action == "list" else {}
        return selectors.sandbox_job_list(project=self.project, status=params.get("status"))

    @extend_schema(
        request=s.SandboxJobInput,
        responses={202: s.SandboxJobOutput, 200: s.SandboxJobOutput},
        parameters=[IDEMPOTENCY_KEY_HEADER],
    )
    def create(self, request, **kwargs):
        data = self.validated(s.SandboxJobInput)
        run = self._related(Run, data.get("run"), "run")
        job, created = services.sandbox_job_create(
            project=self.project,
            job_type=data["job_type"],
            command=data["command"],
            run=run,
            step=self._related(RunStep, data.get("step"), "step"),
            repo=self._related(Repo, data.get("repo"), "repo"),
            timeout_seconds=data.get("timeout_seconds"),
            env=data["env"],
            metadata=data["metadata"],
            actor=request.user,
            idempotency_key=self.idempotency_key(),
        )
        return self.respond(job, code=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={202: s.SandboxJobOutput})
    @action(detail=True, methods=["post"])
    def retry(self, request, **kwargs):
        job = services.sandbox_job_retry(job=self.get_object(), actor=request.user)
        return self.respond(job, code=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def transcript(self, request, **kwargs):
        """The full redacted transcript (from storage when the stored copy was truncated)."""
        job = self.get_object()
        if job.transcript_path:
            data = selectors.read_blob(job.transcript_path, sha256=job.transcript_sha256)
        else:
            data = job.transcript.encode("utf-8")
        response = HttpResponse(data, content_type="text/plain; charset=utf-8")
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- deployments ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("environment", OpenApiTypes.STR),
            OpenApiParameter("status", OpenApiTypes.STR),
        ]
    )
)
class DeploymentViewSet(PipelineViewSet):
    """Deployment records: created through the provider, then only moved forward. Moving
    one by hand (`transition/`) and `rollback/` are for admins and owners."""

    serializer_class = output_serializer = s.DeploymentOutput
    action_roles = {"transition": Role.ADMIN, "rollback": Role.ADMIN}

    def scoped_queryset(self, workspace):
        params = self.request.query_params if self.action == "list" else {}
        return selectors.deployment_list(
            project=self.project, environment=params.get("environment"), status=params.get("status")
        )

    @extend_schema(
        request=s.DeploymentInput,
        responses={201: s.DeploymentOutput, 200: s.DeploymentOutput},
        parameters=[IDEMPOTENCY_KEY_HEADER],
    )
    def create(self, request, **kwargs):
        data = self.validated(s.DeploymentInput)
        deployment, created = services.deployment_create(
            project=self.project,
            environment=data["environment"],
            commit_sha=data["commit_sha"],
            repo=self._related(Repo, data.get("repo"), "repo"),
            run=self._related(Run, data.get("run"), "run"),
            ref=data["ref"],
            metadata=data["metadata"],
            approval_id=data.get("approval"),
            payload=_action_payload(request),
            actor=request.user,
            idempotency_key=self.idempotency_key(),
        )
        return self.respond(
            deployment, code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(request=s.DeploymentTransitionInput, responses={200: s.DeploymentOutput})
    @action(detail=True, methods=["post"])
    def transition(self, request, **kwargs):
        deployment = self.get_object()
        data = self.validated(s.DeploymentTransitionInput)
        return self.respond(
            services.deployment_transition(
                deployment=deployment,
                status=data["status"],
                error=data["error"],
                actor=request.user,
            )  # fmt: skip
        )

    @extend_schema(request=None, responses={200: s.DeploymentOutput})
    @action(detail=True, methods=["post"])
    def refresh(self, request, **kwargs):
        deployment = self.get_object()
        return self.respond(services.deployment_refresh(deployment=deployment, actor=request.user))

    @extend_schema(request=None, responses={200: s.DeploymentOutput})
    @action(detail=True, methods=["post"])
    def rollback(self, request, **kwargs):
        """Serve this earlier local deployment again (the static host's pointer moves)."""
        deployment = self.get_object()
        return self.respond(services.deployment_rollback(deployment=deployment, actor=request.user))

    @extend_schema(request=None, responses={200: s.DeploymentOutput})
    @action(detail=True, methods=["post"])
    def cancel(self, request, **kwargs):
        deployment = self.get_object()
        return self.respond(services.deployment_cancel(deployment=deployment, actor=request.user))


# --- previews ------------------------------------------------------------------------------


class PreviewViewSet(PipelineViewSet):
    """Previews by slug: immutable versions, an active-version pointer, rollback."""

    serializer_class = output_serializer = s.PreviewOutput
    lookup_field = "slug"
    lookup_value_converter = "slug"
    action_roles = {"rollback": Role.ADMIN}

    def scoped_queryset(self, workspace):
        return selectors.preview_list(project=self.project)

    @extend_schema(request=s.PreviewInput, responses={201: s.PreviewOutput})
    def create(self, request, **kwargs):
        data = self.validated(s.PreviewInput)
        preview = services.preview_create(project=self.project, actor=request.user, **data)
        return self.respond(preview, code=status.HTTP_201_CREATED)

    @extend_schema(request=s.PreviewUpdateInput, responses={200: s.PreviewOutput})
    def partial_update(self, request, **kwargs):
        preview = self.get_object()
        data = self.validated(s.PreviewUpdateInput, partial=True)
        if "visibility" in data:  # a PATCH without fields changes nothing
            preview = services.preview_update(
                preview=preview, actor=request.user, visibility=data["visibility"]
            )
        return self.respond(preview)

    @extend_schema(methods=["GET"], responses={200: s.PreviewVersionOutput(many=True)})
    @extend_schema(
        methods=["POST"], request=s.PreviewVersionInput, responses={201: s.PreviewVersionOutput}
    )
    @action(detail=True, methods=["get", "post"])
    def versions(self, request, **kwargs):
        preview = self.get_object()
        if request.method == "GET":
            versions = selectors.preview_version_list(preview=preview)
            return self.paginated(versions, serializer=s.PreviewVersionOutput)
        data = self.validated(s.PreviewVersionInput)
        version = services.preview_version_create(
            preview=preview, content=data["content"], activate=data["activate"], actor=request.user
        )
        return self.respond(
            version, serializer=s.PreviewVersionOutput, code=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.RollbackInput, responses={200: s.PreviewOutput})
    @action(detail=True, methods=["post"])
    def rollback(self, request, **kwargs):
        preview = self.get_object()
        data = self.validated(s.RollbackInput)
        return self.respond(
            services.preview_rollback(preview=preview, version=data["version"], actor=request.user)
        )


# --- infrastructure ----------------------------------------------------------------------


class InfraResourceViewSet(PipelineViewSet):
    """Infrastructure resources; creating one provisions it and needs an approval."""

    serializer_class = output_serializer = s.InfraOutput

    def scoped_queryset(self, workspace):
        return selectors.infra_resource_list(project=self.project)

    @extend_schema(
        request=s.InfraInput,
        responses={201: s.InfraOutput, 200: s.InfraOutput},
        parameters=[IDEMPOTENCY_KEY_HEADER],
    )
    def create(self, request, **kwargs):
        data = self.validated(s.InfraInput)
        resource, created = services.infra_provision(
            project=self.project,
            resource_type=data["resource_type"],
            name=data["name"],
            region=data["region"],
            config=data["config"],
            run=self._related(Run, data.get("run"), "run"),
            approval_id=data.get("approval"),
            payload=_action_payload(request),
            actor=request.user,
            idempotency_key=self.idempotency_key(),
        )
        return self.respond(
            resource, code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ArtifactExportFileView(ArtifactViewSet):
    """`…/artifacts/export.zip` without the trailing slash (same view, kept out of the schema)."""

    @extend_schema(exclude=True)
    def export(self, request, **kwargs):
        return super().export(request, **kwargs)
