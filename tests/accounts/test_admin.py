"""The admin writes through the services, and never deletes critical data."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from accounts.models import User, UserStatus
from governance import registry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_no_critical_model_can_be_deleted_from_the_admin(staff):
    request = RequestFactory().get("/admin/")
    request.user = staff
    deletable = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if (entry := registry.entry_for_model(model)) is not None
        and entry.data_class == registry.DataClass.CRITICAL
        and model._meta.app_label != "auth"  # staff permission groups are ops' own
        and model_admin.has_delete_permission(request)
    ]
    assert deletable == []


def test_adding_a_user_goes_through_the_service(client, staff):
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "  New@Example.com ",
            "handle": "newbie",
            "password1": "a-long-password-42",
            "password2": "a-long-password-42",
        },
    )
    assert response.status_code == 302, response.content
    user = User.objects.get(handle="newbie")
    assert user.email == "new@example.com"  # normalised by user_create
    assert user.check_password("a-long-password-42")
    assert user.history.get().history_change_reason == "user created"


def test_changing_a_user_records_the_staff_user_and_saves_only_changed_fields(client, staff):
    user = UserFactory(display_name="Old")
    response = client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "email": user.email,
            "display_name": "New name",
            "is_staff": "on",
        },
    )
    assert response.status_code == 302, response.content
    user.refresh_from_db()
    assert (user.display_name, user.is_staff, user.status) == ("New name", True, "active")
    latest = user.history.first()
    assert latest.history_user == staff
    assert latest.history_change_reason == "changed in the admin"


def test_suspend_action_uses_the_service_and_is_in_history(client, staff):
    user = UserFactory()
    response = client.post(
        "/admin/accounts/user/",
        {"action": "suspend", "_selected_action": [str(user.pk)]},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.status == UserStatus.SUSPENDED
    latest = user.history.first()
    assert (latest.history_user, latest.history_change_reason) == (
        staff,
        "suspended in the admin",
    )


def test_workspace_and_team_admins_are_read_only(client, staff, world):
    url = f"/admin/workspaces/workspace/{world.workspace.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"name": "hijacked"})
    assert response.status_code == 403
    world.workspace.refresh_from_db()
    assert world.workspace.name != "hijacked"
    assert client.get("/admin/accounts/team/add/").status_code == 403
