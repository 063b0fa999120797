"""Account services and selectors."""

import pytest

from accounts import selectors, services
from accounts.models import Capability, CapabilityName, Membership, Role, UserStatus
from common.exceptions import Conflict, Forbidden, ValidationFailed
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_user_create_normalises_and_refuses_duplicates():
    user = services.user_create(email="Ada@Example.COM ", handle="Ada", password="pw-123456")
    assert (user.email, user.handle) == ("ada@example.com", "ada")
    assert user.check_password("pw-123456")
    with pytest.raises(Conflict):
        services.user_create(email="ada@example.com", handle="other", password="x")
    with pytest.raises(Conflict):
        services.user_create(email="b@example.com", handle="ada", password="x")


def test_handle_cannot_change_after_creation():
    user = UserFactory(handle="first")
    user.handle = "second"
    with pytest.raises(ValidationFailed):
        user.save()
    user.refresh_from_db()
    assert user.handle == "first"
    user.display_name = "Still editable"
    user.save()


def test_status_change_deactivates_and_is_in_history():
    user = UserFactory()
    services.user_set_status(user=user, status=UserStatus.BANNED, actor=None, reason="spam")
    user.refresh_from_db()
    assert not user.is_active
    assert user.history.first().history_change_reason == "spam"


def test_team_create_makes_the_creator_owner_and_refuses_duplicate_slug():
    owner = UserFactory()
    team = services.team_create(name="Crew", slug="crew", actor=owner)
    assert selectors.team_role(team=team, user=owner) == Role.OWNER
    assert list(selectors.team_list_for_user(user=owner)) == [team]
    assert list(selectors.team_list_for_user(user=UserFactory())) == []
    with pytest.raises(Conflict):
        services.team_create(name="Again", slug="crew", actor=owner)


def test_only_admins_manage_members_and_only_owners_add_owners():
    team = TeamFactory()
    owner = MembershipFactory(team=team, role=Role.OWNER).user
    admin = MembershipFactory(team=team, role=Role.ADMIN).user
    member = MembershipFactory(team=team, role=Role.MEMBER).user
    newcomer = UserFactory()
    with pytest.raises(Forbidden):
        services.membership_add(team=team, user=newcomer, role=Role.MEMBER, actor=member)
    with pytest.raises(Forbidden):
        services.membership_add(team=team, user=newcomer, role=Role.OWNER, actor=admin)
    added = services.membership_add(team=team, user=newcomer, role=Role.VIEWER, actor=admin)
    assert added.role == Role.VIEWER
    with pytest.raises(Conflict):
        services.membership_add(team=team, user=newcomer, role=Role.MEMBER, actor=owner)
    assert selectors.team_members(team=team).count() == 4


def test_the_last_owner_cannot_be_demoted_or_removed():
    team = TeamFactory()
    owner_membership = MembershipFactory(team=team, role=Role.OWNER)
    with pytest.raises(ValidationFailed):
        services.membership_change_role(
            membership=owner_membership, role=Role.MEMBER, actor=owner_membership.user
        )
    with pytest.raises(ValidationFailed):
        services.membership_remove(membership=owner_membership, actor=owner_membership.user)
    assert Membership.objects.get(pk=owner_membership.pk).role == Role.OWNER


def test_token_selectors_and_revocation():
    user, other = UserFactory(), UserFactory()
    token, raw = services.token_create(user=user, name="a")
    services.token_create(user=other, name="b")
    assert [t.name for t in selectors.token_list(user=user)] == ["a"]
    assert services.token_authenticate(raw) == token
    assert services.token_authenticate(raw + "x") is None
    services.token_revoke(token=token, actor=user)
    assert services.token_authenticate(raw) is None


def test_user_find_by_email_or_handle():
    user = UserFactory(email="grace@example.com", handle="grace")
    assert selectors.user_find(identifier="GRACE@example.com") == user
    assert selectors.user_find(identifier="grace") == user
    assert selectors.user_find(identifier="nobody") is None


def test_capability_grant_is_idempotent():
    user = UserFactory()
    first = services.capability_grant(user=user, capability=CapabilityName.MODERATE, actor=None)
    second = services.capability_grant(user=user, capability=CapabilityName.MODERATE, actor=None)
    assert first.pk == second.pk
    assert Capability.objects.filter(user=user).count() == 1
