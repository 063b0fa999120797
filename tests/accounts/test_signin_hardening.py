"""Sign-in hardening: no timing oracle for unknown accounts, lockouts visible in the admin,
direct member-add limited to colleagues, and no reply exposing another user's email."""

import statistics
import time

import pytest
from django.test import Client

from accounts.models import Role
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.tenancy import api_client

TOKENS = "/api/v1/auth/tokens/"


@pytest.fixture
def real_hasher(settings):
    # The production hasher (PBKDF2, fewer rounds so the test stays quick): the point is
    # that the unknown-user path pays for one hash exactly as the known-user path does.
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    class Hasher(PBKDF2PasswordHasher):
        iterations = 60_000

    import sys

    module = sys.modules[__name__]
    module.TestHasher = Hasher
    settings.PASSWORD_HASHERS = [f"{__name__}.TestHasher"]
    settings.AXES_FAILURE_LIMIT = 1000


def _timed(username: str, n: int = 5) -> float:
    times = []
    for i in range(n):
        started = time.perf_counter()
        response = Client(REMOTE_ADDR=f"10.0.0.{i + 1}").post(
            TOKENS, {"username": username, "password": "wrong-password"},
            content_type="application/json",
        )  # fmt: skip
        times.append(time.perf_counter() - started)
        assert response.status_code == 400
        assert response.json() == {
            "detail": "Unable to log in with these credentials.",
            "code": "invalid_login",
        }
    return statistics.median(times)


@pytest.mark.django_db
def test_an_unknown_account_answers_as_slowly_as_a_known_one(real_hasher):
    user = UserFactory()
    user.set_password("right-password")
    user.save(update_fields=["password"])
    known = _timed(user.email)
    unknown = _timed("nobody-here@example.com")
    # Both pay one PBKDF2 hash; without the dummy hash the unknown answer was ~50x faster.
    assert unknown > known * 0.5, (known, unknown)


@pytest.mark.django_db
def test_locked_out_attempts_are_listed_in_the_admin(settings):
    settings.AXES_FAILURE_LIMIT = 2
    user = UserFactory()
    for _ in range(3):
        Client(REMOTE_ADDR="10.9.9.9").post(
            TOKENS, {"username": user.email, "password": "nope"}, content_type="application/json"
        )
    ops = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(ops)
    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200
    assert user.email.encode() in page.content and b"10.9.9.9" in page.content


def _members_url(team):
    return f"/api/v1/teams/{team.pk}/members/"


@pytest.mark.django_db
def test_direct_add_is_only_for_colleagues_and_never_shows_an_email():
    admin = UserFactory()
    team = TeamFactory()
    MembershipFactory(team=team, user=admin, role=Role.ADMIN)
    colleague, stranger = UserFactory(), UserFactory()
    elsewhere = TeamFactory()
    MembershipFactory(team=elsewhere, user=admin, role=Role.MEMBER)
    MembershipFactory(team=elsewhere, user=colleague, role=Role.MEMBER)
    client = api_client(admin)

    refused = client.post(_members_url(team), {"user": stranger.handle, "role": "member"})
    unknown = client.post(_members_url(team), {"user": "no-such-handle", "role": "member"})
    assert refused.status_code == unknown.status_code == 400
    assert refused.json() == unknown.json()  # a stranger and nobody look the same
    assert "invite them" in refused.json()["user"][0]
    assert not team.memberships.filter(user=stranger).exists()

    added = client.post(_members_url(team), {"user": colleague.email, "role": "member"})
    assert added.status_code == 201, added.content
    assert "email" not in added.json()["user"]
    assert colleague.email not in added.content.decode()
    listing = client.get(_members_url(team)).content.decode()
    assert colleague.email not in listing and admin.email not in listing
