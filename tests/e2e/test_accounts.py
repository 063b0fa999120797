"""Browser flows for accounts: sign in, invitation by email accepted in the page, sign-up
from an invitation, the lockout page, the billing page. Each saves a screenshot under
pytest's tmp_path and passes axe-core with no serious or critical violation."""

import re
from pathlib import Path

import pytest

from accounts import services
from accounts.models import Membership, Role
from billing import services as billing_services
from tests.e2e.helpers import PASSWORD_LABEL, check_a11y, login, shot
from tests.factories import MembershipFactory, TeamFactory, UserFactory

PASSWORD = "pass-1234-word"


@pytest.fixture
def mail_dir(settings, tmp_path) -> Path:
    """Email goes to files, as on the embedded default, in this test's own folder."""
    folder = tmp_path / "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(folder)
    return folder


def _invitation_link(mail_dir: Path) -> str:
    texts = [p.read_text() for p in sorted(mail_dir.iterdir())]
    links = re.findall(r"https?://\S+/invitations/[\w-]+/", "\n".join(texts))
    assert len(links) == 1, texts
    return links[0]


def test_member_signs_in(page, live_url, tmp_path):
    member = UserFactory(email="grace@example.com", handle="grace")
    MembershipFactory(user=member, role=Role.MEMBER)
    page.goto(f"{live_url}/accounts/login/")
    page.get_by_label("Email or handle").fill("grace")
    page.get_by_label(PASSWORD_LABEL).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("do not match an active account").wait_for()
    assert page.get_by_label("Email or handle").input_value() == "grace"  # kept as typed
    check_a11y(page)
    shot(page, tmp_path, "sign-in-error")
    login(page, live_url, "grace@example.com", PASSWORD)
    assert page.url == f"{live_url}/"
    shot(page, tmp_path, "signed-in")
    # Signing out is a POST from the header's button.
    page.goto(f"{live_url}/accounts/login/?next=/")
    assert page.url.rstrip("/") == live_url  # already signed in: sent on


def test_invite_by_email_and_accept(page, live_url, tmp_path, mail_dir, settings):
    settings.SITE_URL = live_url
    team = TeamFactory(name="Analytical Engines")
    admin = MembershipFactory(team=team, role=Role.ADMIN).user
    invitee = UserFactory(email="babbage@example.com", handle="babbage")
    services.invitation_create(team=team, email=invitee.email, role=Role.MEMBER, actor=admin)
    link = _invitation_link(mail_dir)

    page.goto(link)
    page.get_by_role("heading", name="Join Analytical Engines").wait_for()
    assert "Member" in page.content()
    check_a11y(page)
    shot(page, tmp_path, "invitation-signed-out")

    page.get_by_role("link", name="Sign in to accept").click()
    page.get_by_label("Email or handle").fill("babbage")
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url == link  # back on the invitation (next=)
    check_a11y(page)
    shot(page, tmp_path, "invitation-signed-in")

    with page.expect_navigation():
        page.get_by_role("button", name="Accept and join Analytical Engines").click()
    assert page.url == f"{live_url}/"
    membership = Membership.objects.get(team=team, user=invitee)
    assert membership.role == Role.MEMBER
    shot(page, tmp_path, "invitation-accepted")

    # The link is single use.
    page.goto(link)
    assert "no longer be accepted" in page.content()
    check_a11y(page)
    shot(page, tmp_path, "invitation-used")


def test_sign_up_from_an_invitation(page, live_url, tmp_path, mail_dir, settings):
    settings.SITE_URL = live_url
    settings.SIGNUP_OPEN = True
    team = TeamFactory(name="Compilers")
    owner = MembershipFactory(team=team, role=Role.OWNER).user
    services.invitation_create(team=team, email="hopper@example.com", role=Role.ADMIN, actor=owner)
    page.goto(_invitation_link(mail_dir))
    page.get_by_role("link", name="create an account").click()
    assert page.get_by_label("Email").input_value() == "hopper@example.com"
    page.get_by_label("Handle").fill("Not Valid!")
    page.get_by_label(PASSWORD_LABEL).fill("a-long-enough-pass")
    page.get_by_label("Password again").fill("a-long-enough-pass")
    page.get_by_role("button", name="Create account").click()
    page.locator(".field-error").first.wait_for()
    assert page.get_by_label("Email").input_value() == "hopper@example.com"
    check_a11y(page)
    shot(page, tmp_path, "sign-up-error")

    page.get_by_label("Handle").fill("hopper")
    page.get_by_label(PASSWORD_LABEL).fill("a-long-enough-pass")
    page.get_by_label("Password again").fill("a-long-enough-pass")
    with page.expect_navigation():
        page.get_by_role("button", name="Create account").click()
    assert "/invitations/" in page.url
    with page.expect_navigation():
        page.get_by_role("button", name="Accept and join Compilers").click()
    assert Membership.objects.get(team=team, user__handle="hopper").role == Role.ADMIN
    shot(page, tmp_path, "sign-up-accepted")


def test_lockout_page(page, live_url, tmp_path, settings):
    user = UserFactory()
    page.goto(f"{live_url}/accounts/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Email or handle").fill(user.email)
        page.get_by_label(PASSWORD_LABEL).fill("wrong")
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Sign in").click()
    assert navigation.value.status == 429
    page.get_by_role("heading", name="Too many sign-in attempts").wait_for()
    check_a11y(page)
    shot(page, tmp_path, "locked-out")


def test_billing_page(page, live_url, tmp_path):
    team = TeamFactory(name="Demo team", slug="demo")
    member = MembershipFactory(team=team, role=Role.MEMBER).user
    billing_services.credits_grant(
        team=team, amount=5000, idempotency_key="e2e", actor=None, note="initial credits"
    )
    login(page, live_url, member.email, PASSWORD)
    page.goto(f"{live_url}/teams/demo/billing/")
    page.get_by_role("heading", name="Billing for Demo team").wait_for()
    assert "5000" in page.content()
    check_a11y(page)
    shot(page, tmp_path, "billing")
