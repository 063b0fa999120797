"""Teams and team members over the API."""

import pytest

from accounts.models import Membership, Role
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.tenancy import api_client

pytestmark = pytest.mark.django_db


def test_create_and_list_teams():
    user = UserFactory()
    client = api_client(user)
    response = client.post("/api/v1/teams/", {"name": "Crew", "slug": "crew"}, format="json")
    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    MembershipFactory()  # someone else's team stays invisible
    listed = client.get("/api/v1/teams/").json()["results"]
    assert [t["slug"] for t in listed] == ["crew"]


def test_team_input_errors_are_400_with_fields():
    response = api_client(UserFactory()).post(
        "/api/v1/teams/", {"name": "", "slug": "no spaces"}, format="json"
    )
    assert response.status_code == 400
    assert {"name", "slug"} <= set(response.json())


def test_other_teams_are_404():
    team = TeamFactory()
    client = api_client(UserFactory())
    assert client.get(f"/api/v1/teams/{team.pk}/").status_code == 404
    assert client.get(f"/api/v1/teams/{team.pk}/members/").status_code == 404


def test_members_add_change_remove():
    team = TeamFactory()
    owner = MembershipFactory(team=team, role=Role.OWNER).user
    newcomer = UserFactory(handle="newbie")
    # A direct add is for someone who already shares a team with the adder (else: invite).
    MembershipFactory(team=MembershipFactory(user=owner).team, user=newcomer)
    client = api_client(owner)
    url = f"/api/v1/teams/{team.pk}/members/"
    added = client.post(url, {"user": "newbie", "role": "viewer"}, format="json")
    assert added.status_code == 201, added.json()
    member_id = added.json()["id"]
    assert client.post(url, {"user": "nobody", "role": "viewer"}, format="json").status_code == 400
    changed = client.patch(f"{url}{member_id}/", {"role": "admin"}, format="json")
    assert changed.status_code == 200
    assert Membership.objects.get(pk=member_id).role == Role.ADMIN
    assert client.delete(f"{url}{member_id}/").status_code == 204
    assert not Membership.objects.filter(team=team, user=newcomer).exists()


def test_plain_member_cannot_manage_members():
    team = TeamFactory()
    MembershipFactory(team=team, role=Role.OWNER)
    member = MembershipFactory(team=team, role=Role.MEMBER).user
    url = f"/api/v1/teams/{team.pk}/members/"
    response = api_client(member).post(url, {"user": UserFactory().email}, format="json")
    assert response.status_code == 403
