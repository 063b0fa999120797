"""Search, citations and recall audits under `/api/v1/workspaces/{slug}/projects/{id}/`."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.models import Role
from common.fields import query_data
from workspaces.viewsets import ProjectScopedViewSet, ScopedListMixin, ScopedRetrieveMixin

from .. import services
from ..models import Citation, RecallAudit
from . import serializers as s


class SearchViewSet(ProjectScopedViewSet):
    """Hybrid search (keyword + vector, fused by reciprocal rank) in one namespace."""

    serializer_class = s.SearchOutput
    action_roles = {"search": Role.VIEWER, "search_get": Role.VIEWER}

    def scoped_queryset(self, workspace):
        return RecallAudit.objects.filter(project=self.project)

    @extend_schema(request=s.SearchInput, responses={200: s.SearchOutput})
    def search(self, request, workspace_slug=None, project_id=None):
        return self._search(self.validated(s.SearchInput))

    @extend_schema(
        operation_id="project_search_get",
        parameters=[s.SearchQueryInput],
        responses={200: s.SearchOutput},
    )
    def search_get(self, request, workspace_slug=None, project_id=None):
        """The same search from query parameters (`filter` is not taken here, and `query`
        is at most 300 characters); without a `query` it answers an empty result list."""
        data = self.validated(s.SearchQueryInput, data=query_data(request))
        if not data.get("query", "").strip():
            return Response({"results": []})
        return self._search(data)

    def _search(self, data: dict) -> Response:
        results = services.search(project=self.project, **data)
        return Response({"results": results})


class CitationViewSet(ScopedRetrieveMixin, ProjectScopedViewSet):
    """Citations: which chunks an artifact or chat message rests on."""

    serializer_class = s.CitationOutput
    output_serializer = s.CitationOutput

    def scoped_queryset(self, workspace):
        return Citation.objects.filter(project=self.project).select_related("file")

    @extend_schema(parameters=[s.CitationFilterInput], responses=s.CitationOutput(many=True))
    def list(self, request, workspace_slug=None, project_id=None):
        params = self.validated(s.CitationFilterInput, data=query_data(request))
        return self.paginated(self.get_queryset().filter(**params).order_by("created_at"))

    @extend_schema(request=s.CitationInput, responses={201: s.CitationOutput})
    def create(self, request, workspace_slug=None, project_id=None):
        data = self.validated(s.CitationInput)
        citation = services.citation_create(
            project=self.project,
            source_kind=data["source_kind"],
            source_id=data["source_id"],
            chunk_id=data["chunk"],
            file_id=data["file"],
            quote=data["quote"],
            actor=request.user,
        )
        return self.respond(citation, code=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, workspace_slug=None, project_id=None, pk=None):
        services.citation_delete(citation=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecallAuditViewSet(ScopedListMixin, ProjectScopedViewSet):
    """Measured recall@k of the project's namespaces (newest first); read-only."""

    serializer_class = s.RecallAuditOutput
    output_serializer = s.RecallAuditOutput

    def scoped_queryset(self, workspace):
        return RecallAudit.objects.filter(project=self.project).order_by("-created_at")
