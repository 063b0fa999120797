"""Workspace and project API."""

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from accounts.models import Role
from accounts.selectors import team_list_for_user
from common.exceptions import NotFound, ValidationFailed
from workspaces.viewsets import WorkspaceScopedViewSet

from .. import selectors, services
from . import serializers as s


class WorkspaceListViewSet(viewsets.GenericViewSet):
    """`/api/v1/workspaces/`: the caller's workspaces, and creating one."""

    serializer_class = s.WorkspaceOutput

    def get_queryset(self):
        return selectors.workspace_list_for_user(user=self.request.user)  # type: ignore[arg-type]  # IsAuthenticated ran

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.WorkspaceOutput(page, many=True).data)

    @extend_schema(request=s.WorkspaceInput, responses={201: s.WorkspaceOutput})
    def create(self, request):
        data = s.WorkspaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = team_list_for_user(user=request.user).filter(pk=data.validated_data["team"]).first()
        if team is None:
            raise ValidationFailed("No team with this id that you belong to.", field="team")
        workspace = services.workspace_create(
            team=team,
            name=data.validated_data["name"],
            slug=data.validated_data["slug"],
            description=data.validated_data["description"],
            actor=request.user,
        )
        return Response(s.WorkspaceOutput(workspace).data, status=status.HTTP_201_CREATED)


class WorkspaceDetailViewSet(WorkspaceScopedViewSet):
    """`/api/v1/workspaces/{slug}/`."""

    serializer_class = s.WorkspaceOutput
    write_role = Role.ADMIN

    def scoped_queryset(self, workspace):
        return type(workspace).objects.filter(pk=workspace.pk)

    def retrieve(self, request, workspace_slug=None):
        return Response(s.WorkspaceOutput(self.workspace).data)

    @extend_schema(request=s.WorkspaceUpdateInput, responses={200: s.WorkspaceOutput})
    def partial_update(self, request, workspace_slug=None):
        data = s.WorkspaceUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_update(
            workspace=self.workspace, actor=request.user, **data.validated_data
        )
        return Response(s.WorkspaceOutput(workspace).data)


class ProjectViewSet(WorkspaceScopedViewSet):
    """`/api/v1/workspaces/{slug}/projects/`."""

    serializer_class = s.ProjectOutput

    def scoped_queryset(self, workspace):
        return selectors.project_list(workspace=workspace).select_related("workspace")

    def list(self, request, workspace_slug=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.ProjectOutput(page, many=True).data)

    def retrieve(self, request, workspace_slug=None, pk=None):
        return Response(s.ProjectOutput(self._project(pk)).data)

    @extend_schema(request=s.ProjectInput, responses={201: s.ProjectOutput})
    def create(self, request, workspace_slug=None):
        data = s.ProjectInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(
            workspace=self.workspace, actor=request.user, **data.validated_data
        )
        return Response(s.ProjectOutput(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ProjectUpdateInput, responses={200: s.ProjectOutput})
    def partial_update(self, request, workspace_slug=None, pk=None):
        project = self._project(pk)
        data = s.ProjectUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = services.project_update(
            project=project, actor=request.user, **data.validated_data
        )
        return Response(s.ProjectOutput(project).data)

    @extend_schema(responses={200: s.ProjectOutput})
    def destroy(self, request, workspace_slug=None, pk=None):
        """Archives the project; nothing is deleted."""
        project = services.project_archive(project=self._project(pk), actor=request.user)
        return Response(s.ProjectOutput(project).data)

    def _project(self, pk):
        project = self.get_queryset().filter(pk=pk).first()
        if project is None:
            raise NotFound("Project not found.")
        return project
