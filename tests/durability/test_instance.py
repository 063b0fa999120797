"""The instance backup: every global row plus the catalogue; a whole instance rebuilt from
backup storage alone (a database emptied of data, then `restore --instance`, then each
workspace)."""

import pytest
from django.core.management import call_command

from accounts import services as accounts
from accounts.models import ApiToken, Capability, Membership, Team, User
from billing.models import Entitlement, Plan
from billing.services.entitlements import entitlement_grant, plan_ensure_defaults
from durability import archive, services
from durability.models import BackupKind, BackupRecord, SchemaVersion
from durability.services.instance import instance_entries
from governance import registry
from governance.immutability import allow_purge
from governance.models import AuditEvent
from tests.durability.api_dump import dump
from tests.durability.conftest import populate
from tests.durability.factories import SchemaVersionFactory
from tests.factories import UserFactory
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def _globals():
    """Every global row the instance backup must carry, as comparable tuples."""
    return {
        "users": sorted(User.objects.values_list("pk", "email", "password", "status")),
        "teams": sorted(Team.objects.values_list("pk", "slug")),
        "memberships": sorted(Membership.objects.values_list("pk", "team_id", "user_id", "role")),
        "capabilities": sorted(Capability.objects.values_list("pk", "user_id", "capability")),
        "tokens": sorted(ApiToken.objects.values_list("pk", "key_hash", "revoked_at")),
        "plans": sorted(Plan.objects.values_list("pk", "code")),
        "entitlements": sorted(Entitlement.objects.values_list("pk", "team_id", "plan_id")),
    }


def _wipe_everything():
    """What a fresh, migrated database holds of our data: nothing."""
    with allow_purge():
        models = [e.model for e in registry.backup_models(include_global=True)]
        models += [BackupRecord, SchemaVersion, AuditEvent]
        for model in reversed(models):
            model._base_manager.all()._raw_delete("default")
    assert not User.objects.exists() and not Workspace.objects.exists()


@pytest.fixture
def instance(world):
    populate(world)
    SchemaVersionFactory()
    loner = UserFactory(email="loner@example.com")  # in no workspace, no team
    accounts.capability_grant(user=loner, capability="deploy", actor=None)
    _token, raw = accounts.token_create(user=loner, name="ci")
    plan_ensure_defaults()
    plan = Plan.objects.order_by("code").last()
    entitlement_grant(team=world.workspace.team, plan=plan, actor=world.owner)
    world.context.update(loner=loner, raw_token=raw)
    return world


def test_instance_backup_holds_every_global_model_and_the_catalogue(instance):
    ws_backup = services.backup_create(workspace=instance.workspace)
    record = services.backup_instance_create()
    assert record.kind == BackupKind.INSTANCE and record.backup_id.startswith("instance-")
    manifest = archive.read_manifest(record.backup_id)
    assert [p["model"] for p in manifest["parts"]] == [e.key for e in instance_entries()]
    by_model = {p["model"]: p["rows"] for p in manifest["parts"]}
    assert by_model["accounts.User"] == User.objects.count()  # the loner and the outsider too
    assert by_model["accounts.ApiToken"] == 1
    assert by_model["billing.Plan"] == Plan.objects.count() > 0
    assert manifest["schema"]["app"]["version"] > 0
    assert [c["backup_id"] for c in manifest["catalogue"]] == [ws_backup.backup_id]
    assert services.backup_verify(backup_id=record.backup_id)["ok"]


def test_a_whole_instance_is_rebuilt_from_storage_alone(instance, capsys):
    workspaces = list(Workspace.objects.order_by("slug"))
    owners = {ws.slug: ws.team.memberships.filter(role="owner").first().user for ws in workspaces}
    before = {ws.slug: dump(ws, owners[ws.slug]) for ws in workspaces}
    rows_before = _globals()
    for ws in workspaces:
        services.backup_create(workspace=ws)
    call_command("backup", "--instance")
    instance_id = capsys.readouterr().out.strip().splitlines()[-1]

    _wipe_everything()
    call_command("restore", "--instance", "--noinput", "--with-workspaces")
    out = capsys.readouterr().out

    assert f"from instance backup {instance_id}" in out
    assert _globals() == rows_before
    for ws in Workspace.objects.order_by("slug"):
        assert dump(ws, owners[ws.slug]) == before[ws.slug]
    assert accounts.token_authenticate(instance.context["raw_token"]) is not None
    assert SchemaVersion.objects.get().app_version > 0
    assert BackupRecord.objects.filter(kind=BackupKind.FULL).count() == len(workspaces)


def test_instance_restore_leaves_existing_rows_as_they_are(instance):
    record = services.backup_instance_create()
    loner = instance.context["loner"]
    User.objects.filter(pk=loner.pk).update(display_name="Newer")
    result = services.instance_restore(backup_id=record.backup_id)
    assert sum(result["rows"].values()) >= 0
    assert User.objects.get(pk=loner.pk).display_name == "Newer"


def test_list_backups_shows_instance_backups(instance, capsys):
    record = services.backup_instance_create()
    call_command("list_backups")
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(record.backup_id))
    assert line.endswith(" instance") and " complete instance " in line


def test_the_registry_says_which_backup_carries_every_model_and_e004_asks_the_scope():
    from governance.checks import rule_backup
    from governance.selectors import registry_rows

    carried = {row.entry.key: row.carried_by for row in registry_rows()}
    assert carried["workspaces.Project"] == "workspace backups (full and incremental)"
    assert carried["accounts.User"].startswith("instance backup")
    assert carried["accounts.ApiToken"].startswith("instance backup")
    assert carried["durability.SchemaVersion"] == "copied into every backup manifest (seed 004)"
    entries = {e.key: e for e in registry.model_entries()}
    critical = [e for e in entries.values() if e.data_class == "critical"]
    assert all(carried[e.key] for e in critical)
    assert rule_backup(entries["accounts.User"]) == []
    # a critical model the backup code does not walk fails E004, whatever its flag says
    original = registry._carrier
    registry.register_backup_carrier(lambda entry: "")
    try:
        assert [v.id for v in rule_backup(entries["accounts.User"])] == ["holdfast.E004"]
    finally:
        registry.register_backup_carrier(original)
