"""Workspace pages: home, overview, project page, history, settings."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import ApiToken, Membership, Role
from tests.pages import PageContract, signed_in
from workspaces.models import Project


class TestWorkspacePage(PageContract):
    queries = 7  # the activity and backup-health sections load lazily
    write_marker = "New project"

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/"

    def write(self, world, filled):
        return self.url(world, filled), {"name": "X", "slug": "x"}


class TestProjectPage(PageContract):
    """The project page opens on its comments tab; only that section's queries run."""

    queries = 9
    write_marker = 'id="comment-form"'

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/p/{filled.project.slug}/"

    def write(self, world, filled):
        return self.url(world, filled) + "comments/", {"body": "hi"}


class ProjectTab(PageContract):
    tab = ""

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/p/{filled.project.slug}/?tab={self.tab}"


class TestProjectPreviewsTab(ProjectTab):
    tab, queries, write_marker, writer = "previews", 9, "Roll back", "admin"


class TestProjectDeploymentsTab(ProjectTab):
    tab, queries = "deployments", 9


class TestProjectRunsTab(ProjectTab):
    tab, queries = "runs", 9


class TestProjectArtifactsTab(ProjectTab):
    tab, queries = "artifacts", 8


@pytest.mark.django_db
def test_project_tab_links_swap_only_the_section_with_htmx():
    from tests.page_data import fill
    from tests.tenancy import make_tenant_world

    world = make_tenant_world()
    filled = fill(world, 2)
    client = signed_in(world.member)
    url = f"/w/{world.workspace.slug}/p/{filled.project.slug}/"
    full = client.get(url + "?tab=runs").content.decode()
    assert "<html" in full and 'id="runs"' in full and 'id="comments"' not in full
    part = client.get(url + "?tab=runs", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in part and part.lstrip().startswith('<div id="project-tabs">')
    assert 'id="runs"' in part and 'aria-current="page">Runs<' in part
    assert client.get(url + "?tab=nope").status_code == 404


class TestHistoryPage(PageContract):
    queries = 11

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/history/"


class TestSettingsPage(PageContract):
    queries = 11  # an admin's page also lists pending invitations; + webhooks panel (2)
    write_marker = "Change role"
    writer = "admin"

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/settings/"

    def write(self, world, filled):
        membership = Membership.objects.get(team=world.workspace.team, user=world.member)
        return self.url(world, filled) + f"members/{membership.pk}/role/", {"role": "admin"}


@pytest.mark.django_db
def test_home_signed_out_is_the_landing_page():
    response = Client().get("/")
    assert response.status_code == 200
    assert settings.LOGIN_URL in response.content.decode()


@pytest.mark.django_db
def test_home_lists_only_your_workspaces(world):
    body = signed_in(world.member).get("/").content.decode()
    assert f"/w/{world.workspace.slug}/" in body
    assert world.outsider.memberships.first().team.workspaces.first().slug not in body


@pytest.mark.django_db
def test_project_form_error_keeps_what_was_typed(world):
    Project.objects.create(workspace=world.workspace, name="Taken", slug="taken")
    client = signed_in(world.member)
    response = client.post(
        f"/w/{world.workspace.slug}/", {"name": "My new name", "slug": "taken", "description": ""}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "A project with this slug already exists here." in body
    assert 'value="My new name"' in body


@pytest.mark.django_db
def test_member_creates_a_project_and_lands_on_it(world):
    response = signed_in(world.member).post(
        f"/w/{world.workspace.slug}/", {"name": "Site", "slug": "site"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/w/{world.workspace.slug}/p/site/"


@pytest.mark.django_db
def test_admin_changes_a_role_and_the_last_owner_is_kept(world):
    client = signed_in(world.owner)
    url = f"/w/{world.workspace.slug}/settings/members/"
    member = Membership.objects.get(team=world.workspace.team, user=world.member)
    assert client.post(f"{url}{member.pk}/role/", {"role": "admin"}).status_code == 302
    assert Membership.objects.get(pk=member.pk).role == Role.ADMIN
    owner = Membership.objects.get(team=world.workspace.team, user=world.owner)
    response = client.post(f"{url}{owner.pk}/role/", {"role": "member"})
    assert "A team must keep at least one owner." in response.content.decode()


@pytest.mark.django_db
def test_token_is_shown_once_and_can_be_revoked(world):
    client = signed_in(world.viewer)  # a token is the user's own, not workspace data
    url = f"/w/{world.workspace.slug}/settings/tokens/"
    body = client.post(url, {"name": "ci"}).content.decode()
    assert "shown only once" in body
    token = ApiToken.objects.get(user=world.viewer, name="ci")
    assert (
        "shown only once" not in client.get(f"/w/{world.workspace.slug}/settings/").content.decode()
    )
    assert client.post(f"{url}{token.pk}/revoke/").status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


@pytest.mark.django_db
def test_posts_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.member)
    response = client.post(f"/w/{world.workspace.slug}/", {"name": "X", "slug": "x"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_settings_page_keeps_an_invitations_block(world):
    body = signed_in(world.admin).get(f"/w/{world.workspace.slug}/settings/").content.decode()
    assert 'id="invitations"' in body


@pytest.mark.django_db
def test_admin_invites_from_the_settings_page_and_revokes(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    from accounts.models import Invitation, InvitationStatus

    url = f"/w/{world.workspace.slug}/settings/invitations/"
    client = signed_in(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "new@example.com", "role": "member"})
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="new@example.com")
    assert invitation.team == world.workspace.team and invitation.role == Role.MEMBER
    assert len(mailoutbox) == 1 and "/invitations/" in mailoutbox[0].body
    body = client.get(f"/w/{world.workspace.slug}/settings/").content.decode()
    assert "new@example.com" in body
    response = client.post(f"{url}{invitation.pk}/revoke/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED


@pytest.mark.django_db
def test_invitation_form_keeps_input_on_error_and_members_are_refused(world):
    url = f"/w/{world.workspace.slug}/settings/invitations/"
    response = signed_in(world.admin).post(url, {"email": "not-an-email", "role": "member"})
    assert response.status_code == 200
    assert 'value="not-an-email"' in response.content.decode()
    assert (
        signed_in(world.member).post(url, {"email": "a@b.co", "role": "member"}).status_code == 403
    )
    assert (
        'action="' + url
        not in signed_in(world.member).get(f"/w/{world.workspace.slug}/settings/").content.decode()
    )


@pytest.mark.django_db
def test_the_header_switcher_lists_only_your_workspaces_when_opened():
    from tests.tenancy import make_tenant_world

    world = make_tenant_world()
    other = make_tenant_world()
    body = signed_in(world.member).get("/workspaces/switcher/").content.decode()
    assert f'href="/w/{world.workspace.slug}/"' in body
    assert f"/w/{other.workspace.slug}/" not in body
    response = Client().get("/workspaces/switcher/")
    assert response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL)


@pytest.mark.django_db
def test_overview_sections_load_lazily_and_keep_tenancy():
    from tests.page_data import fill
    from tests.tenancy import make_tenant_world

    world = make_tenant_world()
    fill(world, 2)
    member = signed_in(world.member)
    base = f"/w/{world.workspace.slug}/"
    page = member.get(base).content.decode()
    for name, fallback in (("activity", "history/"), ("backup-health", "backups/")):
        assert f'hx-get="{base}panels/{name}/"' in page and f'href="{fallback}"' in page
    activity = member.get(base + "panels/activity/").content.decode()
    assert "<html" not in activity and "Full history" in activity
    health = member.get(base + "panels/backup-health/").content.decode()
    assert "Backups" in health
    assert member.get(base + "panels/nope/").status_code == 404
    assert signed_in(world.outsider).get(base + "panels/activity/").status_code == 404
