"""Small builders for collaboration tests (they go through the services, like the API)."""

from accounts.models import Role
from collaboration import services
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


def make_thread(world, *, title="General", actor=None, project=None):
    return services.thread_create(
        workspace=world.workspace, title=title, project=project, actor=actor or world.member
    )


def post(thread, actor, body="hello", client_id=""):
    message, _ = services.message_post(thread=thread, body=body, actor=actor, client_id=client_id)
    return message


def make_project(world):
    return ProjectFactory(workspace=world.workspace)


def add_member(world, role=Role.MEMBER, **kwargs):
    user = UserFactory(**kwargs)
    MembershipFactory(team=world.workspace.team, user=user, role=role)
    return user


def ws_url(world, rest=""):
    return f"/api/v1/workspaces/{world.workspace.slug}/{rest}"
