"""Invitations: services, API (roles, strangers, expiry, single use, revoke, seats), page."""

import re

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts import selectors, services
from accounts.models import Invitation, InvitationStatus, Membership, Role
from billing import services as billing_services
from billing.models import Plan
from common.exceptions import Conflict, Forbidden, NotFound, PaymentRequired, ValidationFailed
from governance.registry import DataClass, entry_for_model
from tests.factories import MembershipFactory, TeamFactory, UserFactory


@pytest.fixture
def team_world(db):
    team = TeamFactory()
    roles = {}
    for role in (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER):
        roles[role] = MembershipFactory(team=team, role=role).user
    invitee = UserFactory(email="invitee@example.com", handle="invitee")
    stranger = UserFactory()
    return {"team": team, **roles, "invitee": invitee, "stranger": stranger}


def _api(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


def _url(team, pk=None) -> str:
    base = f"/api/v1/teams/{team.pk}/invitations/"
    return f"{base}{pk}/" if pk else base


def _invite(w, email="invitee@example.com", role=Role.MEMBER, actor=None):
    return services.invitation_create(
        team=w["team"], email=email, role=role, actor=actor or w[Role.ADMIN]
    )


# --- the model and its registry entry -----------------------------------------------------


def test_invitation_is_critical_global_with_history_and_in_the_backup_scope():
    entry = entry_for_model(Invitation)
    assert entry.data_class == DataClass.CRITICAL
    assert entry.is_global and entry.backup
    history = entry_for_model(Invitation.history.model)
    assert history.immutable and history.append_only


@pytest.mark.django_db
def test_invitation_history_table_refuses_updates(team_world):
    from django.db import DatabaseError, transaction

    invitation, _ = _invite(team_world)
    table = Invitation.history.model._meta.db_table
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{table}" SET email = %s', ["x@example.com"])  # noqa: S608


# --- services -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_create_sends_the_link_and_stores_only_the_hash(team_world, mailoutbox, settings):
    settings.SITE_URL = "https://holdfast.example.com"
    invitation, raw = _invite(team_world, email="  Invitee@Example.COM ")
    assert invitation.email == "invitee@example.com"
    assert invitation.status == InvitationStatus.PENDING
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["invitee@example.com"]
    assert f"https://holdfast.example.com/invitations/{raw}/" in message.body
    assert team_world["team"].name in message.subject
    # The raw token is nowhere in the database: not in the row, not in its history.
    for model in (Invitation, Invitation.history.model):
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT * FROM "{model._meta.db_table}"')  # noqa: S608
            rows = cursor.fetchall()
        assert rows
        assert not any(raw in str(value) for row in rows for value in row)
    assert invitation.history.first().history_user == team_world[Role.ADMIN]


@pytest.mark.django_db
def test_no_email_before_commit(team_world, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _invite(team_world)
    assert mailoutbox == [] and len(callbacks) == 1


@pytest.mark.django_db
def test_expiry_defaults_to_the_ttl(team_world, settings):
    settings.INVITATION_TTL_SECONDS = 3600
    invitation, _ = _invite(team_world)
    delta = (invitation.expires_at - invitation.created_at).total_seconds()
    assert 3590 < delta < 3610


@pytest.mark.django_db
@pytest.mark.parametrize("who", [Role.MEMBER, Role.VIEWER, "stranger"])
def test_only_admins_and_owners_invite(team_world, who):
    with pytest.raises(Forbidden):
        _invite(team_world, actor=team_world[who])


@pytest.mark.django_db
def test_only_an_owner_invites_an_owner(team_world):
    with pytest.raises(Forbidden):
        _invite(team_world, role=Role.OWNER, actor=team_world[Role.ADMIN])
    invitation, _ = _invite(team_world, role=Role.OWNER, actor=team_world[Role.OWNER])
    assert invitation.role == Role.OWNER


@pytest.mark.django_db
def test_bad_input_and_conflicts(team_world):
    with pytest.raises(ValidationFailed):
        _invite(team_world, email="not-an-email")
    with pytest.raises(ValidationFailed):
        _invite(team_world, role="emperor")
    with pytest.raises(Conflict):
        _invite(team_world, email=team_world[Role.MEMBER].email)
    _invite(team_world)
    with pytest.raises(Conflict):  # one pending invitation per address and team
        _invite(team_world, email="INVITEE@example.com")


@pytest.mark.django_db
def test_accept_joins_once_with_the_invitee_as_actor(team_world):
    invitation, raw = _invite(team_world, role=Role.VIEWER)
    invitee = team_world["invitee"]
    membership = services.invitation_accept(token=raw, user=invitee)
    assert membership.team == team_world["team"] and membership.role == Role.VIEWER
    assert membership.history.first().history_user == invitee
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.accepted_by == invitee and invitation.accepted_at is not None
    assert invitation.history.first().history_user == invitee
    with pytest.raises(Conflict):
        services.invitation_accept(token=raw, user=invitee)
    assert Membership.objects.filter(team=team_world["team"], user=invitee).count() == 1


@pytest.mark.django_db
def test_accept_needs_the_invited_address(team_world):
    _, raw = _invite(team_world)
    with pytest.raises(Forbidden):
        services.invitation_accept(token=raw, user=team_world["stranger"])
    with pytest.raises(NotFound):
        services.invitation_accept(token=raw + "x", user=team_world["invitee"])


@pytest.mark.django_db
def test_expired_invitation_is_refused_and_marked_expired(team_world, settings):
    settings.INVITATION_TTL_SECONDS = 0
    invitation, raw = _invite(team_world)
    with pytest.raises(ValidationFailed, match="expired"):
        services.invitation_accept(token=raw, user=team_world["invitee"])
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED
    assert not Membership.objects.filter(user=team_world["invitee"]).exists()
    # An expired one no longer blocks a fresh invitation to the same address.
    settings.INVITATION_TTL_SECONDS = 3600
    _invite(team_world)


@pytest.mark.django_db
def test_expire_job_marks_overdue_invitations(team_world, settings):
    settings.INVITATION_TTL_SECONDS = 0
    invitation, _ = _invite(team_world)
    settings.INVITATION_TTL_SECONDS = 3600
    fresh, _ = _invite(team_world, email="fresh@example.com")
    assert services.invitations_expire() == 1
    invitation.refresh_from_db()
    fresh.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED
    assert fresh.status == InvitationStatus.PENDING


@pytest.mark.django_db
def test_revoke(team_world):
    invitation, raw = _invite(team_world)
    with pytest.raises(Forbidden):
        services.invitation_revoke(invitation=invitation, actor=team_world[Role.MEMBER])
    services.invitation_revoke(invitation=invitation, actor=team_world[Role.OWNER])
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED
    assert services.invitation_revoke(invitation=invitation, actor=team_world[Role.OWNER])
    with pytest.raises(Conflict):
        services.invitation_accept(token=raw, user=team_world["invitee"])


def _full_team(team_world):
    """Give the team a plan whose seats are all taken."""
    seats = Membership.objects.filter(team=team_world["team"]).count()
    plan = Plan(code="tight", name="Tight", seats=seats)
    billing_services.plan_save(plan=plan, actor=None)
    billing_services.entitlement_grant(team=team_world["team"], plan=plan, actor=None)


@pytest.mark.django_db
def test_seat_limit_applies_at_acceptance(team_world):
    _, raw = _invite(team_world)  # inviting is allowed while seats are free or not
    _full_team(team_world)
    with pytest.raises(PaymentRequired):
        services.invitation_accept(token=raw, user=team_world["invitee"])
    invitation = selectors.invitation_for_token(token=raw)
    assert invitation.status == InvitationStatus.PENDING


# --- API ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_create_list_revoke(team_world, mailoutbox, django_capture_on_commit_callbacks):
    team = team_world["team"]
    client = _api(team_world[Role.ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(team), {"email": "new@example.com", "role": "member"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "email", "role", "status", "expires_at"}
    assert body["status"] == "pending" and body["email"] == "new@example.com"
    assert "token" not in body and "token_hash" not in body
    assert re.search(r"/invitations/[\w-]+/", mailoutbox[0].body)
    listed = client.get(_url(team)).json()
    assert listed["next"] is None
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    response = client.delete(_url(team, body["id"]))
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert client.post(_url(team), {"email": "bad"}).status_code == 400
    assert client.post(_url(team), {"email": "x@example.com", "role": "owner"}).status_code == 403


@pytest.mark.django_db
def test_api_pending_duplicate_is_409(team_world):
    client = _api(team_world[Role.OWNER])
    team = team_world["team"]
    assert client.post(_url(team), {"email": "dup@example.com"}).status_code == 201
    assert client.post(_url(team), {"email": "dup@example.com"}).status_code == 409


@pytest.mark.django_db
def test_api_list_paginates(team_world):
    team = team_world["team"]
    for n in range(3):
        _invite(team_world, email=f"p{n}@example.com")
    page = _api(team_world[Role.ADMIN]).get(_url(team), {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    follow = _api(team_world[Role.ADMIN]).get(page["next"]).json()
    assert len(follow["results"]) == 1 and follow["next"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("who,code", [("stranger", 404), (Role.MEMBER, 403), (Role.VIEWER, 403)])
def test_api_non_admins(team_world, who, code):
    team = team_world["team"]
    invitation, _ = _invite(team_world)
    client = _api(team_world[who])
    assert client.get(_url(team)).status_code == code
    assert client.post(_url(team), {"email": "z@example.com"}).status_code == code
    assert client.delete(_url(team, invitation.pk)).status_code == code
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


@pytest.mark.django_db
def test_api_anonymous_is_401(team_world):
    team = team_world["team"]
    assert _api(None).get(_url(team)).status_code == 401
    assert _api(None).post("/api/v1/invitations/accept/", {"token": "x"}).status_code == 401


@pytest.mark.django_db
def test_api_unknown_invitation_of_my_team_is_404(team_world):
    client = _api(team_world[Role.ADMIN])
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.delete(_url(team_world["team"], missing)).status_code == 404


@pytest.mark.django_db
def test_api_cannot_revoke_another_teams_invitation_through_mine(team_world):
    other = TeamFactory()
    owner = MembershipFactory(team=other, role=Role.OWNER).user
    foreign, _ = services.invitation_create(
        team=other, email="f@example.com", role=Role.MEMBER, actor=owner
    )
    client = _api(team_world[Role.ADMIN])
    assert client.delete(_url(team_world["team"], foreign.pk)).status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == InvitationStatus.PENDING


@pytest.mark.django_db
def test_api_accept(team_world):
    _, raw = _invite(team_world, role=Role.MEMBER)
    client = _api(team_world["invitee"])
    response = client.post("/api/v1/invitations/accept/", {"token": raw})
    assert response.status_code == 200
    body = response.json()
    assert body["team"]["id"] == str(team_world["team"].pk) and body["role"] == "member"
    again = client.post("/api/v1/invitations/accept/", {"token": raw})
    assert again.status_code == 409
    assert client.post("/api/v1/invitations/accept/", {"token": "nope"}).status_code == 404


@pytest.mark.django_db
def test_api_accept_expired_is_400(team_world, settings):
    settings.INVITATION_TTL_SECONDS = 0
    invitation, raw = _invite(team_world)
    response = _api(team_world["invitee"]).post("/api/v1/invitations/accept/", {"token": raw})
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_expired"
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED


@pytest.mark.django_db
def test_api_accept_over_the_seat_limit_is_402(team_world):
    _, raw = _invite(team_world)
    _full_team(team_world)
    response = _api(team_world["invitee"]).post("/api/v1/invitations/accept/", {"token": raw})
    assert response.status_code == 402
    assert response.json()["limit"] == "seats"


# --- the invitation page -------------------------------------------------------------------


@pytest.mark.django_db
def test_page_signed_out_offers_sign_in_and_sign_up(team_world, settings):
    settings.SIGNUP_OPEN = True
    _, raw = _invite(team_world, role=Role.VIEWER)
    response = Client().get(f"/invitations/{raw}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert team_world["team"].name in html and "Viewer" in html
    assert f"/accounts/login/?next=/invitations/{raw}/" in html
    assert "/accounts/signup/?next=" in html
    assert Client().get("/invitations/not-a-token/").status_code == 404


@pytest.mark.django_db
def test_page_accepts_with_a_post(team_world):
    _, raw = _invite(team_world)
    client = Client(enforce_csrf_checks=False)
    client.force_login(team_world["invitee"])
    html = client.get(f"/invitations/{raw}/").content.decode()
    assert "Accept and join" in html
    response = client.post(f"/invitations/{raw}/")
    assert response.status_code == 302
    assert Membership.objects.filter(user=team_world["invitee"], team=team_world["team"]).exists()
    again = client.post(f"/invitations/{raw}/")
    assert again.status_code == 409
    assert "already been used" in again.content.decode()


@pytest.mark.django_db
def test_page_signed_out_post_goes_to_login(team_world):
    _, raw = _invite(team_world)
    response = Client().post(f"/invitations/{raw}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_page_for_the_wrong_account_explains(team_world):
    _, raw = _invite(team_world)
    client = Client()
    client.force_login(team_world["stranger"])
    html = client.get(f"/invitations/{raw}/").content.decode()
    assert "Accept and join" not in html and "this invitation is for" in html
    assert client.post(f"/invitations/{raw}/").status_code == 403


@pytest.mark.django_db
def test_page_seat_limit_is_402(team_world):
    _, raw = _invite(team_world)
    _full_team(team_world)
    client = Client()
    client.force_login(team_world["invitee"])
    response = client.post(f"/invitations/{raw}/")
    assert response.status_code == 402
    assert "seats" in response.content.decode()


@pytest.mark.django_db
def test_admin_lists_invitations_read_only_and_revokes_through_the_service(team_world):
    invitation, _ = _invite(team_world)
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    url = "/admin/accounts/invitation/"
    response = client.get(url)
    assert response.status_code == 200 and invitation.email in response.content.decode()
    assert client.get(f"{url}add/").status_code == 403
    change = client.get(f"{url}{invitation.pk}/change/")
    assert change.status_code == 200 and "token_hash" not in change.content.decode()
    response = client.post(url, {"action": "revoke", "_selected_action": [str(invitation.pk)]})
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED
    assert invitation.history.first().history_user == staff
