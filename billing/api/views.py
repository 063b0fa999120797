"""Billing API: a team's plan and usage, its credit ledger, and workspace KPI events."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import Role
from common.fields import query_data
from workspaces.viewsets import WorkspaceScopedViewSet

from .. import selectors, services
from . import serializers as s


class TeamBillingViewSet(viewsets.GenericViewSet):
    """`/api/v1/teams/{id}/billing/`: plan, limits, usage against each limit, credit balance."""

    serializer_class = s.BillingOutput

    @extend_schema(responses={200: s.BillingOutput})
    def retrieve(self, request, team_id=None):
        team = selectors.team_for_member(user=request.user, team_id=team_id)
        return Response(s.BillingOutput(selectors.team_billing_summary(team=team)).data)


class TeamCreditViewSet(viewsets.GenericViewSet):
    """`/api/v1/teams/{id}/credits/`: the AI-credit ledger, newest first."""

    serializer_class = s.CreditEntryOutput

    def get_queryset(self):
        team = selectors.team_for_member(user=self.request.user, team_id=self.kwargs["team_id"])
        return selectors.credit_entries(team=team)

    def list(self, request, team_id=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.CreditEntryOutput(page, many=True).data)


class KpiViewSet(WorkspaceScopedViewSet):
    """`/api/v1/workspaces/{slug}/kpi/`: record an event (viewers too), list daily aggregates."""

    serializer_class = s.KpiDailyOutput
    write_role = Role.VIEWER
    throttle_classes = [ScopedRateThrottle]  # cache counters: no database write
    throttle_scope = "kpi"

    def scoped_queryset(self, workspace):
        return selectors.kpi_daily_list(workspace=workspace)

    @extend_schema(parameters=[s.KpiFilter])
    def list(self, request, workspace_slug=None):
        queryset = self.get_queryset()
        filters = s.KpiFilter(data=query_data(request))
        filters.is_valid(raise_exception=True)
        if filters.validated_data.get("day"):
            queryset = queryset.filter(day=filters.validated_data["day"])
        if filters.validated_data.get("event"):
            queryset = queryset.filter(event=filters.validated_data["event"])
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.KpiDailyOutput(page, many=True).data)

    @extend_schema(
        request=s.KpiEventInput,
        responses={202: s.KpiEventOutput, 200: s.KpiEventOutput},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                location=OpenApiParameter.HEADER,
                description="A retry with the same key within a day records nothing new (200).",
            )
        ],
    )
    def create(self, request, workspace_slug=None):
        """Append the event to today's `.cache/kpi/` file; no database write."""
        data = s.KpiEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.kpi_record(
            workspace=self.workspace,
            actor=request.user,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            **data.validated_data,
        )
        code = status.HTTP_200_OK if row.get("duplicate") else status.HTTP_202_ACCEPTED
        return Response(s.KpiEventOutput(row).data, status=code)

    @extend_schema(responses={200: s.KpiPriorsOutput})
    def priors(self, request, workspace_slug=None):
        """Outcome priors from `.cache/priors.json`; empty when none have been computed."""
        return Response({"events": selectors.workspace_priors(workspace=self.workspace)})
