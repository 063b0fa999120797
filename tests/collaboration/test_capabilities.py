"""`chat` and `create_projects` are checked in the services; a mute stops comments as well
as chat messages. Each refusal is 403 with a clear message and writes nothing. Ordinary
members hold every default capability; `moderate` only with a grant (docs/safety.md)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import moderation, selectors
from accounts import services as accounts
from accounts.models import Capability, CapabilityName
from collaboration import services
from collaboration.models import Comment, Message
from common.exceptions import Forbidden
from tests.factories import ProjectFactory, UserFactory
from tests.tenancy import api_client
from workspaces.models import Project

from .helpers import ws_url

pytestmark = pytest.mark.django_db

DEFAULTS = ["create_projects", "deploy", "use_ai", "chat"]


@pytest.fixture
def thread(world):
    return services.thread_create(workspace=world.workspace, title="General", actor=world.owner)


@pytest.fixture
def moderator(db):
    user = UserFactory()
    accounts.capability_grant(user=user, capability="moderate", actor=None)
    return user


def _revoke(user, capability):
    assert accounts.capability_revoke(user=user, capability=capability, actor=None, reason="t")


def test_members_hold_the_default_capabilities_and_not_moderate(world):
    for user in (world.owner, world.member, UserFactory()):
        for cap in DEFAULTS:
            assert selectors.capability_has(user=user, capability=cap), (user, cap)
        assert not selectors.capability_has(user=user, capability="moderate")


def test_revoke_and_grant_of_a_default_capability_is_a_denial_row_with_history(world):
    user = world.member
    _revoke(user, "chat")
    cap = Capability.objects.get(user=user, capability="chat")
    assert cap.denied and not selectors.capability_has(user=user, capability="chat")
    assert not accounts.capability_revoke(user=user, capability="chat", actor=None)  # already
    accounts.capability_grant(user=user, capability="chat", actor=None, reason="appeal")
    assert selectors.capability_has(user=user, capability="chat")
    reasons = list(
        cap.history.order_by("history_date").values_list("history_change_reason", flat=True)
    )
    assert reasons == ["t", "appeal"]
    # a denial row never counts as a grant of `moderate`
    assert not accounts.capability_revoke(user=user, capability="moderate", actor=None)


def test_staff_revoke_a_default_capability_over_the_api(world):
    staff = UserFactory(is_staff=True)
    url = f"/api/v1/capabilities/{world.member.pk}/create_projects/"
    assert api_client(world.owner).delete(url).status_code == 403  # only staff
    assert api_client(staff).delete(url).status_code == 204
    assert api_client(staff).delete(url).status_code == 404  # no longer held
    assert not selectors.capability_has(user=world.member, capability="create_projects")
    mine = api_client(world.member).get("/api/v1/me/capabilities/").json()
    assert [(c["capability"], c["denied"]) for c in mine] == [("create_projects", True)]
    granted = api_client(staff).post(
        "/api/v1/capabilities/",
        {"user": str(world.member.pk), "capability": "create_projects"},
        format="json",
    )
    assert granted.status_code == 201 and granted.json()["denied"] is False
    assert selectors.capability_has(user=world.member, capability="create_projects")


def test_create_projects_revoked_refuses_project_creation(world):
    url = ws_url(world, "projects/")
    client = api_client(world.member)
    assert client.post(url, {"name": "A", "slug": "a"}, format="json").status_code == 201
    _revoke(world.member, CapabilityName.CREATE_PROJECTS)
    response = client.post(url, {"name": "B", "slug": "b"}, format="json")
    assert response.status_code == 403
    assert "create_projects capability has been revoked" in response.json()["detail"]
    assert list(Project.objects.values_list("slug", flat=True)) == ["a"]
    assert (
        api_client(world.admin).post(url, {"name": "C", "slug": "c"}, format="json").status_code
        == 201
    )


def test_create_projects_revoked_is_403_on_the_page(world, client):
    _revoke(world.member, CapabilityName.CREATE_PROJECTS)
    client.force_login(world.member)
    page = client.post(f"/w/{world.workspace.slug}/", {"name": "B", "slug": "b"})
    assert page.status_code == 403  # a service's Forbidden on a page is the 403 page
    assert not Project.objects.exists()


def test_chat_revoked_refuses_posting_messages(world, thread):
    url = ws_url(world, f"threads/{thread.pk}/messages/")
    client = api_client(world.member)
    assert client.post(url, {"body": "hi"}, format="json").status_code == 201
    _revoke(world.member, CapabilityName.CHAT)
    response = client.post(url, {"body": "again"}, format="json")
    assert response.status_code == 403
    assert "chat capability has been revoked" in response.json()["detail"]
    assert Message.objects.count() == 1
    with pytest.raises(Forbidden):
        services.message_post(thread=thread, body="x", actor=world.member)
    # comments are not chat: still allowed
    project = ProjectFactory(workspace=world.workspace)
    services.comment_create(
        workspace=world.workspace, project=project, body="ok", actor=world.member
    )


def test_chat_revoked_or_muted_refuses_edits_reactions_and_threads(world, thread, moderator):
    """An edit, a reaction or a thread says something as a post does: refused with 403 and
    nothing written, for a revoked `chat` and for a mute; deleting one's own message is not."""
    client = api_client(world.member)
    msgs = ws_url(world, f"threads/{thread.pk}/messages/")
    message_id = client.post(msgs, {"body": "hi"}, format="json").json()["id"]
    project = ProjectFactory(workspace=world.workspace)
    comment = services.comment_create(
        workspace=world.workspace, project=project, body="ok", actor=world.member
    )

    def attempts():
        return {
            "edit": client.post(f"{msgs}{message_id}/edit/", {"body": "new"}, format="json"),
            "react": client.post(f"{msgs}{message_id}/reactions/", {"emoji": "+1"}, format="json"),
            "thread": client.post(ws_url(world, "threads/"), {"title": "Mine"}, format="json"),
            "rename": client.patch(
                ws_url(world, f"threads/{thread.pk}/"), {"title": "Renamed"}, format="json"
            ),
        }

    _revoke(world.member, CapabilityName.CHAT)
    for name, response in attempts().items():
        assert response.status_code == 403, (name, response.content)
        assert "chat capability has been revoked" in response.json()["detail"], name
    accounts.capability_grant(user=world.member, capability="chat", actor=None)
    moderation.moderation_action_create(
        actor=moderator, user=world.member, type="mute", reason="spam"
    )
    for name, response in attempts().items():
        assert response.status_code == 403, (name, response.content)
        assert "muted" in response.json()["detail"], name
    with pytest.raises(Forbidden):
        services.comment_update(comment=comment, body="rewritten", actor=world.member)
    message = Message.objects.get(pk=message_id)
    thread.refresh_from_db()
    comment.refresh_from_db()
    assert (message.body, message.reactions, thread.title) == ("hi", {}, "General")
    assert comment.body == "ok" and list(Message.objects.values_list("thread", flat=True)) == [
        thread.pk
    ]
    assert thread.workspace.threads.count() == 1
    # Taking one's own words back stays possible.
    services.message_delete(thread=thread, message_id=message_id, actor=world.member)
    assert Message.objects.get(pk=message_id).deleted


def test_the_mute_and_chat_check_is_one_statement(world, thread):
    with CaptureQueriesContext(connection) as captured:
        moderation.check_can_write(world.member, chat=True)
    assert len(captured.captured_queries) == 1
    sql = captured.captured_queries[0]["sql"]
    assert 'FROM "accounts_moderationaction"' in sql and '"accounts_capability"' in sql


def test_mute_stops_comments_until_a_restore(world, moderator):
    project = ProjectFactory(workspace=world.workspace)
    url = ws_url(world, "comments/")
    client = api_client(world.member)
    body = {"project": str(project.pk), "body": "first"}
    assert client.post(url, body, format="json").status_code == 201
    moderation.moderation_action_create(
        actor=moderator, user=world.member, type="mute", reason="spam"
    )
    response = client.post(url, {"project": str(project.pk), "body": "second"}, format="json")
    assert response.status_code == 403
    assert "muted" in response.json()["detail"]
    assert Comment.objects.count() == 1
    with pytest.raises(Forbidden):
        services.comment_create(
            workspace=world.workspace, project=project, body="x", actor=world.member
        )
    moderation.moderation_action_create(
        actor=moderator, user=world.member, type="restore", reason="ok"
    )
    assert (
        client.post(url, {"project": str(project.pk), "body": "third"}, format="json").status_code
        == 201
    )


def test_a_denial_of_moderate_is_refused_by_validation(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Capability(user=world.member, capability="moderate", denied=True).full_clean()


def test_the_admin_records_a_denial_and_refuses_one_of_moderate(client, world):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = "/admin/accounts/capability/add/"
    body = {"user": str(world.member.pk), "capability": "deploy", "denied": "on"}
    assert client.post(url, body).status_code == 302
    cap = Capability.objects.get(user=world.member, capability="deploy")
    assert cap.denied and cap.history.get().history_user == staff
    assert not selectors.capability_has(user=world.member, capability="deploy")
    refused = client.post(url, {**body, "capability": "moderate"})
    assert refused.status_code == 200 and "Only a default capability" in refused.content.decode()
    assert not Capability.objects.filter(capability="moderate").exists()


def test_capability_history_stays_immutable_after_the_denied_column(world):
    """On SQLite accounts.0008 rebuilt the history table; its triggers are back."""
    from governance.immutability import is_immutable

    assert is_immutable("accounts_historicalcapability")
