"""Workspace and project writes."""

from django.db import transaction

from accounts.models import CapabilityName, Role, Team, User, role_at_least
from accounts.selectors import capability_require, team_role
from common import limits
from common.exceptions import Conflict, Forbidden
from governance.history import save_tracked

from .models import Project, ProjectStatus, Workspace


@transaction.atomic
def workspace_create(
    *, team: Team, name: str, slug: str, actor: User, description: str = ""
) -> Workspace:
    if not role_at_least(team_role(team=team, user=actor), Role.ADMIN):
        raise Forbidden("Only a team owner or admin can create workspaces.")
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict("A workspace with this slug already exists.", field="slug")
    limits.enforce("workspaces", team=team)
    workspace = Workspace(team=team, name=name, slug=slug, description=description)
    workspace.full_clean()
    save_tracked(workspace, actor=actor, reason="workspace created")
    return workspace


@transaction.atomic
def workspace_update(*, workspace: Workspace, actor: User, **fields) -> Workspace:
    changed: list[str] = []
    for name in ("name", "description"):
        if name in fields and getattr(workspace, name) != fields[name]:
            setattr(workspace, name, fields[name])
            changed.append(name)
    if changed:
        workspace.full_clean()
        reason = f"workspace updated: {', '.join(changed)}"
        save_tracked(workspace, actor=actor, reason=reason, update_fields=changed)
    return workspace


@transaction.atomic
def project_create(
    *, workspace: Workspace, name: str, slug: str, actor: User, description: str = ""
) -> Project:
    if getattr(actor, "is_authenticated", False):  # an operator may revoke it per user (403)
        capability_require(
            user=actor, capability=CapabilityName.CREATE_PROJECTS, what="creating projects"
        )
    if Project.objects.filter(workspace=workspace, slug=slug).exists():
        raise Conflict("A project with this slug already exists here.", field="slug")
    limits.enforce("projects_per_workspace", workspace=workspace, team=workspace.team)
    project = Project(
        workspace=workspace, name=name, slug=slug, description=description, owner=actor
    )
    project.full_clean()
    save_tracked(project, actor=actor, reason="project created")
    return project


@transaction.atomic
def project_update(*, project: Project, actor: User, **fields) -> Project:
    changed: list[str] = []
    for name in ("name", "description", "status"):
        if name in fields and getattr(project, name) != fields[name]:
            setattr(project, name, fields[name])
            changed.append(name)
    if "slug" in fields and fields["slug"] != project.slug:
        if Project.objects.filter(workspace=project.workspace, slug=fields["slug"]).exists():
            raise Conflict("A project with this slug already exists here.", field="slug")
        project.slug = fields["slug"]
        changed.append("slug")
    if changed:
        project.full_clean()
        reason = fields.get("reason") or f"project updated: {', '.join(changed)}"
        save_tracked(project, actor=actor, reason=reason, update_fields=changed)
    return project


@transaction.atomic
def project_archive(*, project: Project, actor: User) -> Project:
    """Projects are archived, not deleted: their history and children stay."""
    return project_update(
        project=project, actor=actor, status=ProjectStatus.ARCHIVED, reason="project archived"
    )
