"""The one workspace-scoped viewset base. Every tenant endpoint inherits from it.

It resolves `/api/v1/workspaces/{workspace_slug}/…` in `initial()`, before any
handler runs: a non-member gets 404, a caller below the role an action needs
gets 403, an anonymous caller 401. Subclasses say what they list through
`scoped_queryset(workspace)`; the base then applies the data-class registry's
tenant path for that model to it (`project__workspace=<this workspace>`), so a
view that forgets its own filter still cannot read another tenant's rows, and a
model with no tenant path cannot be served here at all. Subclasses may not
override `get_queryset` or `get_object` (the class refuses to be defined if they
try); every detail route goes through `get_object()`.

The helpers below are the one copy of what every view needs: `validated()` for
input serializers, `respond()` and `paginated()` for output, and
`idempotency_key()` for the `Idempotency-Key` header. `ScopedListMixin` and
`ScopedRetrieveMixin` are the list and retrieve handlers most views need.
"""

from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status, viewsets
from rest_framework.response import Response

from accounts.models import Role
from common.exceptions import ValidationFailed
from governance import registry

from .selectors import WorkspaceAccess, project_get, workspace_access

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# The longest Idempotency-Key accepted anywhere (the credit ledger's column holds 200).
IDEMPOTENCY_KEY_MAX = 200

IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Retrying with the same key returns the first result instead of a duplicate "
    f"(at most {IDEMPOTENCY_KEY_MAX} characters).",
)


def tenant_scoped(queryset: QuerySet, workspace, *, id_field: str | None = None) -> QuerySet:
    """`queryset` narrowed to `workspace` by its model's registered tenant path; fails closed.

    `id_field` is for global catalogue rows that name their workspace by id without a foreign
    key (a backup record outlives a purged workspace): they are narrowed on that column.
    """
    if id_field is not None:
        return queryset.filter(**{id_field: workspace.pk})
    entry = registry.entry_for_model(queryset.model)
    if entry is None or entry.is_global:
        raise ImproperlyConfigured(
            f"{queryset.model.__name__} has no tenant path in the data-class registry; "
            "it cannot be served by a workspace-scoped view."
        )
    return queryset.filter(**registry.tenant_filter(entry, workspace))


if TYPE_CHECKING:  # the mixin is only ever combined with GenericViewSet
    _ViewBase = viewsets.GenericViewSet
else:
    _ViewBase = object


class WorkspaceScopedMixin(_ViewBase):
    """Resolves the workspace, checks the role and filters by tenant; see the module docstring."""

    workspace_url_kwarg = "workspace_slug"
    read_role = Role.VIEWER
    write_role = Role.MEMBER
    # Per-action minimum roles, e.g. {"approve": Role.ADMIN, "heartbeat": Role.VIEWER}.
    action_roles: dict[str, str] = {}
    # The serializer `respond()` and `paginated()` use when not told otherwise.
    output_serializer = None

    # True only where `scoped_queryset` returns a combined query (a UNION of per-table
    # selects) that cannot be filtered again, and the selector applies the registry's
    # tenant filter to every part itself.
    dangerously_tenant_filtered_by_selector = False
    # For a global model that names its workspace by id (see `tenant_scoped`).
    tenant_id_field: str | None = None

    _forbidden_overrides = ("get_queryset", "get_object")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls._forbidden_overrides:
            if name in cls.__dict__ and not getattr(cls, "dangerously_allow_override", False):
                raise TypeError(
                    f"{cls.__name__} overrides {name}(); workspace-scoped views define "
                    "scoped_queryset(workspace) instead, so the tenant filter cannot be lost."
                )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and IsAuthenticated first
        self.access: WorkspaceAccess = workspace_access(
            user=request.user, slug=self.kwargs[self.workspace_url_kwarg]
        )
        self.workspace = self.access.workspace
        self.access.require(self.required_role(request))
        self.resolve_parents()

    def required_role(self, request) -> str:
        action = getattr(self, "action", None)
        if action in self.action_roles:
            return self.action_roles[action]
        return self.read_role if request.method in SAFE_METHODS else self.write_role

    def resolve_parents(self) -> None:
        """Hook for nested routes (the project-scoped base resolves the project here)."""

    def scoped_queryset(self, workspace) -> QuerySet:
        raise NotImplementedError(f"{type(self).__name__} must define scoped_queryset()")

    def get_queryset(self) -> QuerySet:
        queryset = self.scoped_queryset(self.workspace)
        if self.dangerously_tenant_filtered_by_selector:
            return queryset
        return tenant_scoped(queryset, self.workspace, id_field=self.tenant_id_field)

    # --- the one copy of each request/response step -------------------------------------

    def validated(self, serializer_class, data=None, **kwargs) -> dict:
        """The request body (or `data`) validated by `serializer_class`; 400 with field errors."""
        serializer = serializer_class(
            data=self.request.data if data is None else data,
            context={"request": self.request, "workspace": self.workspace},
            **kwargs,
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def respond(self, obj, *, serializer=None, code: int = status.HTTP_200_OK) -> Response:
        serializer = serializer or self.output_serializer or self.get_serializer_class()
        return Response(serializer(obj, context=self.get_serializer_context()).data, status=code)

    def paginated(self, queryset, *, serializer=None) -> Response:
        serializer = serializer or self.output_serializer or self.get_serializer_class()
        page = self.paginate_queryset(queryset)
        data = serializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def idempotency_key(self) -> str:
        """The request's `Idempotency-Key` header, stripped ("" when absent)."""
        key = self.request.headers.get("Idempotency-Key", "").strip()
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise ValidationFailed(
                f"An Idempotency-Key is at most {IDEMPOTENCY_KEY_MAX} characters.",
                field="headers",
            )
        return key


if TYPE_CHECKING:  # the handler mixins are only ever combined with the scoped base
    _HandlerBase = WorkspaceScopedMixin
else:
    _HandlerBase = object


class ScopedListMixin(_HandlerBase):
    """`GET` on the collection: the scoped queryset, paginated, through `output_serializer`."""

    def list(self, request, *args, **kwargs):
        return self.paginated(self.get_queryset())


class ScopedRetrieveMixin(_HandlerBase):
    """`GET` on a detail route: `get_object()` (tenant-filtered) through `output_serializer`."""

    def retrieve(self, request, *args, **kwargs):
        return self.respond(self.get_object())


class WorkspaceScopedViewSet(WorkspaceScopedMixin, viewsets.GenericViewSet):
    """Base for `/api/v1/workspaces/{workspace_slug}/<resource>/` endpoints."""


class ProjectScopedViewSet(WorkspaceScopedViewSet):
    """Base for `/api/v1/workspaces/{slug}/projects/{project_id}/<resource>/` endpoints."""

    project_url_kwarg = "project_id"

    def resolve_parents(self) -> None:
        self.project = project_get(
            workspace=self.workspace, project_id=self.kwargs[self.project_url_kwarg]
        )
