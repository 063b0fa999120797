"""Tokens, /auth/me/, sessions, and suspended or banned users."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken, UserStatus
from accounts.services import token_create, user_set_status
from tests.factories import UserFactory

TOKENS = "/api/v1/auth/tokens/"
ME = "/api/v1/auth/me/"
PASSWORD = "pass-1234-word"


def _bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.django_db
def test_token_is_returned_once_and_only_its_hash_is_stored():
    user = UserFactory()
    response = APIClient().post(
        TOKENS, {"username": user.email, "password": PASSWORD, "name": "laptop"}, format="json"
    )
    assert response.status_code == 201
    raw = response.json()["token"]
    token = ApiToken.objects.get(user=user)
    assert token.name == "laptop"
    assert raw not in token.key_hash
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")  # noqa: S608
        assert not any(raw in str(value) for row in cursor.fetchall() for value in row)
    listed = _bearer(raw).get(TOKENS).json()["results"]
    assert [row["name"] for row in listed] == ["laptop"]
    assert "token" not in listed[0]


@pytest.mark.django_db
def test_wrong_password_is_400_and_creates_nothing():
    user = UserFactory()
    response = APIClient().post(TOKENS, {"username": user.email, "password": "nope"}, format="json")
    assert response.status_code == 400
    assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_token_records_last_use_and_can_be_revoked():
    user = UserFactory()
    token, raw = token_create(user=user, name="ci")
    assert token.last_used_at is None
    client = _bearer(raw)
    me = client.get(ME)
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert client.delete(f"{TOKENS}{token.pk}/").status_code == 204
    assert client.get(ME).status_code == 401


@pytest.mark.django_db
def test_me_needs_authentication_and_works_with_a_session():
    assert APIClient().get(ME).status_code == 401
    user = UserFactory()
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(email=user.email, password=PASSWORD)
    assert client.get(ME).json()["handle"] == user.handle


@pytest.mark.django_db
def test_session_writes_need_csrf():
    user = UserFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.login(email=user.email, password=PASSWORD)
    response = client.post("/api/v1/teams/", {"name": "T", "slug": "t"}, format="json")
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("status", [UserStatus.SUSPENDED, UserStatus.BANNED])
def test_suspended_or_banned_user_cannot_log_in_or_use_a_token(status):
    user = UserFactory()
    _, raw = token_create(user=user, name="old")
    user_set_status(user=user, status=status, actor=None)
    assert _bearer(raw).get(ME).status_code == 401
    response = APIClient().post(
        TOKENS, {"username": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert not APIClient().login(email=user.email, password=PASSWORD)
    admin_login = APIClient().post("/admin/login/", {"username": user.email, "password": PASSWORD})
    assert "_auth_user_id" not in admin_login.wsgi_request.session


@pytest.mark.django_db
def test_signing_in_with_a_revoked_token_in_the_header_still_signs_in():
    """Found by schemathesis: `POST /auth/tokens/` answered 401 (undocumented) when the
    request carried a revoked bearer token; the credentials in the body are what count."""
    from accounts.services import token_revoke

    user = UserFactory()
    token, raw = token_create(user=user, name="old")
    token_revoke(token=token, actor=user)
    client = _bearer(raw)
    assert client.get(TOKENS).status_code == 401  # the revoked token itself is refused
    response = client.post(
        TOKENS, {"username": user.email, "password": PASSWORD, "name": "new"}, format="json"
    )
    assert response.status_code == 201, response.content
    wrong = client.post(TOKENS, {"username": user.email, "password": "nope"}, format="json")
    assert wrong.status_code == 400
