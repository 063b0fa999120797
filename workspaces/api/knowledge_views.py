"""Project files and skills: `/api/v1/workspaces/{slug}/projects/{id}/files/` and `skills/`."""

import io

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from common.exceptions import NotFound
from common.parsers import StrictJSONParser
from workspaces.viewsets import ProjectScopedViewSet, ScopedListMixin, ScopedRetrieveMixin

from .. import knowledge
from ..models import ProjectFile, ProjectSkill
from . import knowledge_serializers as s


class ProjectFileViewSet(ScopedListMixin, ScopedRetrieveMixin, ProjectScopedViewSet):
    """A project's files: upload (multipart `file`), list, read one."""

    serializer_class = s.FileOutput
    output_serializer = s.FileOutput  # type: ignore[assignment]
    parser_classes = [MultiPartParser, StrictJSONParser]

    def scoped_queryset(self, workspace):
        return ProjectFile.objects.filter(project=self.project).order_by("-created_at")

    @extend_schema(
        request={
            "multipart/form-data": s.FileUploadInput,
            "application/json": s.FileJSONUploadInput,
        },
        responses={201: s.FileOutput, 200: s.FileOutput},
        summary="Upload a file; the same bytes again return 200 with the first file",
    )
    def create(self, request, workspace_slug=None, project_id=None):
        multipart = request.content_type.startswith("multipart/")
        data = self.validated(s.FileUploadInput if multipart else s.FileJSONUploadInput)
        upload = data.get("file")
        if upload is not None:
            limit = knowledge.file_max_bytes()
            if upload.size is not None and upload.size > limit:
                raise knowledge.PayloadTooLarge(
                    f"This file is {upload.size} bytes; files are at most {limit} bytes "
                    "(FILE_MAX_BYTES).",
                    field="file",
                )
            name, stream = upload.name, upload
            content_type = data.get("content_type") or upload.content_type or ""
        else:
            name, stream = data["name"], io.BytesIO(data["content_base64"])
            content_type = data.get("content_type", "")
        file, created = knowledge.project_file_upload(
            project=self.project,
            name=name,
            stream=stream,
            content_type=content_type,
            actor=request.user,
        )
        return self.respond(file, code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ProjectSkillViewSet(ScopedListMixin, ScopedRetrieveMixin, ProjectScopedViewSet):
    """A project's skills (SKILL.md overrides): CRUD, and each skill's history."""

    serializer_class = s.SkillOutput
    output_serializer = s.SkillOutput  # type: ignore[assignment]

    def scoped_queryset(self, workspace):
        return ProjectSkill.objects.filter(project=self.project).order_by("name_norm")

    @extend_schema(request=s.SkillInput, responses={201: s.SkillOutput})
    def create(self, request, workspace_slug=None, project_id=None):
        skill = knowledge.project_skill_create(
            project=self.project, actor=request.user, **self.validated(s.SkillInput)
        )
        return self.respond(skill, code=status.HTTP_201_CREATED)

    @extend_schema(request=s.SkillUpdateInput, responses={200: s.SkillOutput})
    def partial_update(self, request, workspace_slug=None, project_id=None, pk=None):
        skill = knowledge.project_skill_update(
            skill=self._skill(pk), actor=request.user, **self.validated(s.SkillUpdateInput)
        )
        return self.respond(skill)

    @extend_schema(responses={204: None})
    def destroy(self, request, workspace_slug=None, project_id=None, pk=None):
        knowledge.project_skill_delete(skill=self._skill(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: s.SkillHistoryOutput(many=True)})
    def history(self, request, workspace_slug=None, project_id=None, pk=None):
        """Every version of the skill, newest first (it may have been deleted since)."""
        rows = ProjectSkill.history.filter(project_id=self.project.pk, id=pk).order_by(
            "-history_date"
        )
        if not rows.exists():
            raise NotFound("Skill not found.")
        return self.paginated(rows, serializer=s.SkillHistoryOutput)

    def _skill(self, pk):
        skill = self.get_queryset().filter(pk=pk).first()
        if skill is None:
            raise NotFound("Skill not found.")
        return skill
