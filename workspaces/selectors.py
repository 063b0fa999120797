"""Tenant-scoped reads. Every read of tenant data starts from `workspace_access`."""

from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import Role, User, role_at_least
from accounts.selectors import team_role
from common.exceptions import Forbidden, NotFound

from .models import Project, Workspace


@dataclass(frozen=True)
class WorkspaceAccess:
    """A workspace together with the caller's role in it."""

    workspace: Workspace
    role: str

    def require(self, minimum: str) -> None:
        if not role_at_least(self.role, minimum):
            raise Forbidden(f"This needs the {Role(minimum).label.lower()} role or above.")

    @property
    def can_write(self) -> bool:
        return role_at_least(self.role, Role.MEMBER)

    @property
    def is_admin(self) -> bool:
        return role_at_least(self.role, Role.ADMIN)


def workspace_access(*, user: User, slug: str) -> WorkspaceAccess:
    """The workspace `slug` as `user` may see it; 404 for both missing and not a member."""
    if not user.is_authenticated:
        raise NotFound("Workspace not found.")
    workspace = Workspace.objects.select_related("team").filter(slug=slug).first()
    if workspace is None:
        raise NotFound("Workspace not found.")
    role = team_role(user=user, team_id=workspace.team_id)
    if role is None:
        raise NotFound("Workspace not found.")
    return WorkspaceAccess(workspace=workspace, role=role)


def workspace_list_for_user(*, user: User) -> QuerySet[Workspace]:
    return (
        Workspace.objects.filter(team__memberships__user=user)
        .select_related("team")
        .distinct()
        .order_by("name")
    )


def project_list(*, workspace: Workspace) -> QuerySet[Project]:
    return Project.objects.filter(workspace=workspace).order_by("name")


def project_get(*, workspace: Workspace, project_id) -> Project:
    project = Project.objects.filter(workspace=workspace, pk=project_id).first()
    if project is None:
        raise NotFound("Project not found.")
    return project
