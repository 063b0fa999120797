"""Account pages: sign-in by email or handle, logout, sign-up, password reset, lockouts."""

import io
import re
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User, UserStatus
from accounts.services import user_set_status
from tests.factories import UserFactory

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
SIGNUP = "/accounts/signup/"
RESET = "/accounts/password/reset/"
PASSWORD = "pass-1234-word"


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_login_page_has_labelled_fields_and_csrf():
    response = Client(enforce_csrf_checks=True).get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'for="id_username"' in html and "Email or handle" in html
    assert 'for="id_password"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("as_", ["email", "handle", "@handle", "EMAIL"])
def test_sign_in_with_email_or_handle(as_):
    user = UserFactory()
    username = {
        "email": user.email,
        "handle": user.handle,
        "@handle": f"@{user.handle}",
        "EMAIL": user.email.upper(),
    }[as_]
    client = Client()
    response = client.post(LOGIN, {"username": username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert _signed_in(client)


@pytest.mark.django_db
def test_sign_in_follows_a_safe_next_only():
    user = UserFactory()
    client = Client()
    data = {"username": user.handle, "password": PASSWORD}
    response = client.post(LOGIN, {**data, "next": "/teams/x/billing/"})
    assert response["Location"] == "/teams/x/billing/"
    client.post(LOGOUT)
    response = client.post(LOGIN, {**data, "next": "https://evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_wrong_password_shows_the_error_and_keeps_the_username():
    user = UserFactory()
    client = Client()
    response = client.post(LOGIN, {"username": user.handle, "password": "wrong"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "do not match an active account" in html
    assert f'value="{user.handle}"' in html
    assert not _signed_in(client)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [UserStatus.SUSPENDED, UserStatus.BANNED])
def test_suspended_or_banned_user_cannot_sign_in(status):
    user = UserFactory()
    user_set_status(user=user, status=status, actor=None)
    client = Client()
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert not _signed_in(client)


@pytest.mark.django_db
def test_suspension_ends_an_existing_session():
    user = UserFactory()
    client = Client()
    client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    assert client.get("/api/v1/auth/me/").status_code == 200
    user_set_status(user=user, status=UserStatus.SUSPENDED, actor=None)
    assert client.get("/api/v1/auth/me/").status_code in (401, 403)


@pytest.mark.django_db
def test_logout_is_post_only():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    assert client.get(LOGOUT).status_code == 405
    assert _signed_in(client)
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert not _signed_in(client)


@pytest.mark.django_db
def test_logout_needs_csrf():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(LOGOUT).status_code == 403
    assert _signed_in(client)


SIGNUP_DATA = {
    "email": "New.Person@Example.com",
    "handle": "newperson",
    "display_name": "New Person",
    "password1": "a-long-enough-pass",
    "password2": "a-long-enough-pass",
}


@pytest.mark.django_db
def test_signup_creates_the_user_through_the_service_and_signs_in(settings):
    settings.SIGNUP_OPEN = True
    client = Client()
    assert client.get(SIGNUP).status_code == 200
    response = client.post(SIGNUP, {**SIGNUP_DATA, "next": "/invitations/abc/"})
    assert response.status_code == 302 and response["Location"] == "/invitations/abc/"
    user = User.objects.get(handle="newperson")
    assert user.email == "new.person@example.com"
    assert user.check_password("a-long-enough-pass")
    assert user.history.first().history_change_reason == "user created"
    assert _signed_in(client)


@pytest.mark.django_db
def test_signup_errors_are_shown_in_place_and_keep_what_was_typed(settings):
    settings.SIGNUP_OPEN = True
    taken = UserFactory(handle="taken")
    response = Client().post(SIGNUP, {**SIGNUP_DATA, "handle": "taken", "password2": "other"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "The two passwords differ." in html
    assert 'value="New.Person@Example.com"' in html  # as typed
    assert 'value="New Person"' in html
    response = Client().post(SIGNUP, {**SIGNUP_DATA, "handle": "taken"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    response = Client().post(SIGNUP, {**SIGNUP_DATA, "email": taken.email, "handle": "other1"})
    assert "already exists" in response.content.decode()
    assert not User.objects.filter(handle="newperson").exists()


@pytest.mark.django_db
def test_signup_closed(settings):
    settings.SIGNUP_OPEN = False
    response = Client().get(SIGNUP)
    assert response.status_code == 404
    assert "Sign-up is closed" in response.content.decode()
    assert Client().post(SIGNUP, SIGNUP_DATA).status_code == 404
    assert not User.objects.filter(handle="newperson").exists()
    assert "Create an account" not in Client().get(LOGIN).content.decode()


def test_email_defaults_to_files_under_the_data_folder():
    from config.settings import base

    assert base.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend"
    assert Path(base.EMAIL_FILE_PATH) == base.DATA_DIR / "mail"
    assert base.LOGIN_URL == "/accounts/login/" and base.LOGIN_REDIRECT_URL == "/"


@pytest.mark.django_db
def test_password_reset_writes_a_mail_file_with_a_working_link(settings, tmp_path):
    mail_dir = tmp_path / "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(mail_dir)
    user = UserFactory()
    client = Client()
    response = client.post(RESET, {"email": user.email.upper()})
    assert response.status_code == 302
    files = list(mail_dir.iterdir())
    assert len(files) == 1
    text = files[0].read_text()
    assert f"To: {user.email}" in text
    link = re.search(r"(https?://\S+/accounts/password/reset/\S+/\S+/)", text).group(1)
    assert link.startswith(settings.SITE_URL)
    path = link[len(settings.SITE_URL) :]
    response = client.get(path, follow=True)
    assert response.status_code == 200 and response.context["validlink"]
    set_url = response.redirect_chain[-1][0]
    response = client.post(
        set_url, {"new_password1": "brand-new-pass-99", "new_password2": "brand-new-pass-99"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/complete/"
    user.refresh_from_db()
    assert user.check_password("brand-new-pass-99")
    # The link is single use.
    assert not client.get(path, follow=True).context["validlink"]


@pytest.mark.django_db
def test_password_reset_for_an_unknown_or_suspended_address_sends_nothing(mailoutbox):
    user = UserFactory()
    user_set_status(user=user, status=UserStatus.SUSPENDED, actor=None)
    client = Client()
    assert client.post(RESET, {"email": "nobody@example.com"}).status_code == 302
    assert client.post(RESET, {"email": user.email}).status_code == 302
    assert mailoutbox == []


@pytest.mark.django_db
def test_password_change():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    url = "/accounts/password/change/"
    response = client.post(
        url, {"old_password": "wrong", "new_password1": "x", "new_password2": "x"}
    )
    assert response.status_code == 200
    response = client.post(
        url,
        {
            "old_password": PASSWORD,
            "new_password1": "another-good-pass",
            "new_password2": "another-good-pass",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-good-pass")
    assert _signed_in(client)  # the session survives its own password change
    assert Client().get(url).status_code == 302  # signed out → to the login page


# --- lockouts (django-axes) ------------------------------------------------------------


def _fail(client, username, ip="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": "wrong"}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_lockout_after_the_failure_limit_per_account(settings):
    user = UserFactory()
    limit = settings.AXES_FAILURE_LIMIT
    client = Client()
    for n in range(limit - 1):
        # Different addresses: only the per-account counter can trip.
        assert _fail(client, user.email, ip=f"10.0.1.{n}").status_code == 200
    response = _fail(client, user.handle, ip="10.0.1.200")  # the handle is the same account
    assert response.status_code == 429
    assert "Too many" in response.content.decode()
    assert response["Retry-After"] == str(settings.AXES_COOLOFF_MINUTES * 60)
    # Even the right password is refused now, from anywhere.
    response = client.post(
        LOGIN, {"username": user.email, "password": PASSWORD}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 429
    assert not _signed_in(client)
    # Another account from a fresh address is unaffected.
    other = UserFactory()
    response = client.post(
        LOGIN, {"username": other.email, "password": PASSWORD}, REMOTE_ADDR="10.9.9.8"
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_lockout_per_address(settings):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _fail(client, f"nobody{n}@example.com", ip="10.0.2.1").status_code == 200
    assert _fail(client, "someone-else", ip="10.0.2.1").status_code == 429
    user = UserFactory()
    response = client.post(
        LOGIN, {"username": user.email, "password": PASSWORD}, REMOTE_ADDR="10.0.2.1"
    )
    assert response.status_code == 429
    response = client.post(
        LOGIN, {"username": user.email, "password": PASSWORD}, REMOTE_ADDR="10.0.2.2"
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_token_endpoint_is_rate_limited_too(settings):
    from rest_framework.test import APIClient

    user = UserFactory()
    client = APIClient()
    body = {"username": user.email, "password": "wrong"}
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/api/v1/auth/tokens/", body, format="json").status_code == 400
    response = client.post("/api/v1/auth/tokens/", body, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    good = {"username": user.email, "password": PASSWORD}
    assert client.post("/api/v1/auth/tokens/", good, format="json").status_code == 429


@pytest.mark.django_db
def test_a_success_resets_the_account_counter(settings):
    user = UserFactory()
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        _fail(client, user.email, ip=f"10.0.3.{n}")
    ok = client.post(LOGIN, {"username": user.email, "password": PASSWORD}, REMOTE_ADDR="10.0.3.99")
    assert ok.status_code == 302
    client.post(LOGOUT)
    assert _fail(client, user.email, ip="10.0.3.98").status_code == 200


@pytest.mark.django_db
def test_prune_login_attempts_removes_only_old_ones(settings):
    from datetime import timedelta

    from axes.models import AccessAttempt
    from django.utils import timezone

    from accounts.services import login_attempts_prune

    _fail(Client(), "someone")
    assert AccessAttempt.objects.count() == 1
    assert login_attempts_prune() == 0
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(days=1))
    assert login_attempts_prune() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["grace@holdfast.local", "grace", "ada"])
def test_seed_demo_users_sign_in_at_the_login_page(username):
    from django.core.management import call_command

    from accounts.models import Membership, Role
    from billing.management.commands.seed_demo import DEMO_PASSWORD

    call_command("seed_demo", stdout=io.StringIO())
    grace = User.objects.get(handle="grace")
    assert not grace.is_staff
    assert Membership.objects.get(user=grace, team__slug="demo").role == Role.MEMBER
    client = Client()
    response = client.post(LOGIN, {"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert _signed_in(client)
    assert client.get("/teams/demo/billing/").status_code == 200


def test_start_script_prints_the_login_url():
    text = (Path(__file__).resolve().parents[2] / "scripts" / "start").read_text()
    assert "/accounts/login/" in text
