"""The one workspace-scoped viewset base. Every tenant endpoint inherits from it.

It resolves `/api/v1/workspaces/{workspace_slug}/…` in `initial()`, before any
handler runs: a non-member gets 404, a caller below the role an action needs
gets 403, an anonymous caller 401. Subclasses say what they list through
`scoped_queryset(workspace)`; they may not override `get_queryset` or
`get_object` (a forgotten tenant filter would be a leak), and the class refuses
to be defined if they try.
"""

from django.db.models import QuerySet
from rest_framework import viewsets

from accounts.models import Role
from workspaces.selectors import WorkspaceAccess, project_get, workspace_access

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class WorkspaceScopedMixin:
    """Resolves the workspace and checks the role; see the module docstring."""

    workspace_url_kwarg = "workspace_slug"
    read_role = Role.VIEWER
    write_role = Role.MEMBER
    # Per-action minimum roles, e.g. {"approve": Role.ADMIN, "heartbeat": Role.VIEWER}.
    action_roles: dict[str, str] = {}

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
        return self.scoped_queryset(self.workspace)


class WorkspaceScopedViewSet(WorkspaceScopedMixin, viewsets.GenericViewSet):
    """Base for `/api/v1/workspaces/{workspace_slug}/<resource>/` endpoints."""


class ProjectScopedViewSet(WorkspaceScopedViewSet):
    """Base for `/api/v1/workspaces/{slug}/projects/{project_id}/<resource>/` endpoints."""

    project_url_kwarg = "project_id"

    def resolve_parents(self) -> None:
        self.project = project_get(
            workspace=self.workspace, project_id=self.kwargs[self.project_url_kwarg]
        )
