"""The team billing page: plan, limits with usage bars, credit balance and a paged ledger."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from billing import services
from tests.factories import MembershipFactory, TeamFactory, UserFactory


@pytest.fixture
def billing_world(db, entitle):
    team = TeamFactory(name="Acme", slug="acme")
    owner = MembershipFactory(team=team, role=Role.OWNER).user
    viewer = MembershipFactory(team=team, role=Role.VIEWER).user
    entitle(team, actor=owner, seats=10, workspaces=3)
    services.credits_grant(team=team, amount=500, idempotency_key="g1", actor=owner, note="start")
    return {"team": team, "owner": owner, "viewer": viewer}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


URL = "/teams/acme/billing/"


@pytest.mark.django_db
def test_member_sees_plan_usage_and_credits(billing_world):
    response = _client(billing_world["viewer"]).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Billing for Acme" in html and "Test plan" in html
    assert 'id="limit-seats"' in html
    assert '<progress max="100" value="20"' in html  # 2 of 10 seats
    assert "Unlimited" in html  # the test plan leaves other limits open
    assert "<strong>500</strong>" in html and "start" in html


@pytest.mark.django_db
def test_stranger_gets_404_and_signed_out_goes_to_login(billing_world):
    assert _client(UserFactory()).get(URL).status_code == 404
    assert _client(billing_world["owner"]).get("/teams/nope/billing/").status_code == 404
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={URL}"


@pytest.mark.django_db
def test_ledger_paginates_and_queries_do_not_grow_with_rows(billing_world):
    client = _client(billing_world["owner"])
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for n in range(30):
        services.credits_grant(
            team=billing_world["team"],
            amount=1,
            idempotency_key=f"k{n}",
            actor=billing_world["owner"],
        )
    with CaptureQueriesContext(connection) as many:
        page1 = client.get(URL)
    assert len(many) == len(few)
    html = page1.content.decode()
    assert "Page 1 of 2" in html and 'href="?page=2"' in html
    page2 = client.get(URL, {"page": 2}).content.decode()
    assert "Page 2 of 2" in page2 and "start" in page2
