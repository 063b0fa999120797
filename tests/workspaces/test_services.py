"""Workspace and project services and selectors."""

import pytest

from accounts.models import Role
from common.exceptions import Conflict, Forbidden, NotFound
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, WorkspaceFactory
from workspaces import selectors, services
from workspaces.models import ProjectStatus

pytestmark = pytest.mark.django_db


def test_workspace_create_needs_team_admin_and_unique_slug():
    workspace = WorkspaceFactory()
    admin = MembershipFactory(team=workspace.team, role=Role.ADMIN).user
    member = MembershipFactory(team=workspace.team, role=Role.MEMBER).user
    with pytest.raises(Forbidden):
        services.workspace_create(team=workspace.team, name="X", slug="x", actor=member)
    with pytest.raises(Conflict):
        services.workspace_create(team=workspace.team, name="X", slug=workspace.slug, actor=admin)
    created = services.workspace_create(team=workspace.team, name="X", slug="x", actor=admin)
    assert created.history.first().history_user == admin


def test_workspace_access_hides_non_members_and_missing_alike():
    workspace = WorkspaceFactory()
    viewer = MembershipFactory(team=workspace.team, role=Role.VIEWER).user
    access = selectors.workspace_access(user=viewer, slug=workspace.slug)
    assert access.workspace == workspace
    assert not access.can_write
    for user, slug in ((UserFactory(), workspace.slug), (viewer, "missing")):
        with pytest.raises(NotFound):
            selectors.workspace_access(user=user, slug=slug)


def test_workspace_list_only_shows_own_teams():
    mine = WorkspaceFactory()
    WorkspaceFactory()
    user = MembershipFactory(team=mine.team).user
    assert list(selectors.workspace_list_for_user(user=user)) == [mine]


def test_project_slug_unique_per_workspace_and_archive_keeps_row():
    workspace = WorkspaceFactory()
    other = WorkspaceFactory()
    actor = MembershipFactory(team=workspace.team, role=Role.MEMBER).user
    project = services.project_create(workspace=workspace, name="Site", slug="site", actor=actor)
    with pytest.raises(Conflict):
        services.project_create(workspace=workspace, name="Again", slug="site", actor=actor)
    ProjectFactory(workspace=other, slug="site")  # the same slug elsewhere is fine
    services.project_archive(project=project, actor=actor)
    project.refresh_from_db()
    assert project.status == ProjectStatus.ARCHIVED
    assert project.history.count() == 2


def test_project_get_is_scoped_to_the_workspace():
    project = ProjectFactory()
    assert selectors.project_get(workspace=project.workspace, project_id=project.pk) == project
    with pytest.raises(NotFound):
        selectors.project_get(workspace=WorkspaceFactory(), project_id=project.pk)
