"""The demo data command is idempotent and gives a usable login."""

import pytest
from django.core.management import call_command

from accounts.models import Membership, Team, User
from billing.models import Entitlement
from billing.selectors import credit_balance
from workspaces.models import Project, Workspace


@pytest.mark.django_db
def test_seed_demo_twice_creates_one_set():
    call_command("seed_demo")
    call_command("seed_demo")
    assert set(User.objects.values_list("email", flat=True)) == {
        "ada@holdfast.local",
        "grace@holdfast.local",
    }
    assert Team.objects.count() == 1
    assert Membership.objects.count() == 2
    assert Workspace.objects.count() == 1
    assert Project.objects.count() == 2
    team = Team.objects.get()
    assert Entitlement.objects.get(team=team).plan.code == "team"
    assert credit_balance(team=team) == 5_000  # one initial grant, not two
    ada = User.objects.get(email="ada@holdfast.local")
    assert ada.check_password("holdfast-demo")
    assert ada.is_staff and ada.is_superuser
