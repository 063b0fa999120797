"""A workspace's audit trail (history rows) and governance actions (AuditEvents), read-only."""

from drf_spectacular.utils import extend_schema

from common.fields import query_data
from governance import selectors
from workspaces.viewsets import WorkspaceScopedViewSet

from . import audit_serializers as s


class WorkspaceHistoryViewSet(WorkspaceScopedViewSet):
    """`/api/v1/workspaces/{slug}/history/`: every change to the workspace's data, newest first."""

    serializer_class = s.HistoryEntryOutput
    # A UNION over the history tables; governance.selectors filters each part by tenant.
    dangerously_tenant_filtered_by_selector = True

    def scoped_queryset(self, workspace):
        params = s.HistoryFilterInput(data=query_data(self.request))
        params.is_valid(raise_exception=True)
        return selectors.workspace_history(workspace=workspace, **params.validated_data)

    @extend_schema(
        parameters=[s.HistoryFilterInput],
        responses=s.HistoryEntryOutput(many=True),
        summary="The workspace's audit trail across every history table",
    )
    def list(self, request, workspace_slug=None):
        page = self.paginate_queryset(self.get_queryset())
        entries = selectors.history_entries(page)
        return self.get_paginated_response(s.HistoryEntryOutput(entries, many=True).data)


class WorkspaceAuditEventViewSet(WorkspaceScopedViewSet):
    """`/api/v1/workspaces/{slug}/audit-events/`: backups, restores, approvals, purges, ..."""

    serializer_class = s.AuditEventOutput

    def scoped_queryset(self, workspace):
        params = s.AuditEventFilterInput(data=query_data(self.request))
        params.is_valid(raise_exception=True)
        return selectors.workspace_audit_events(workspace=workspace, **params.validated_data)

    @extend_schema(
        parameters=[s.AuditEventFilterInput],
        responses=s.AuditEventOutput(many=True),
        summary="The workspace's governance actions (append-only AuditEvents), newest first",
    )
    def list(self, request, workspace_slug=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.AuditEventOutput(page, many=True).data)
