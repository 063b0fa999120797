"""The registry: everything is registered, and the questions backups ask have the right answers."""

import pytest
from django.apps import apps

from governance import registry
from governance.registry import DataClass
from tests.factories import ProjectFactory, WorkspaceFactory


def test_every_model_and_third_party_model_is_registered():
    assert registry.unregistered_models() == []
    keys = {e.key for e in registry.model_entries()}
    for label in (
        "auth.Group",
        "auth.Permission",
        "contenttypes.ContentType",
        "sessions.Session",
        "admin.LogEntry",
        "accounts.User_groups",
        "governance.HistoricalGroup",
        "accounts.HistoricalUser_groups",
    ):
        assert label in keys, label


def test_every_entry_has_a_reason_and_a_known_class():
    for entry in registry.all_entries():
        assert entry.reason.strip(), entry.key
        assert entry.data_class in DataClass.values, entry.key


def test_history_tables_inherit_their_model_entry_as_append_only_immutable():
    entry = registry.entry_for_model(apps.get_model("workspaces.HistoricalProject"))
    assert entry.history_of == "workspaces.Project"
    assert entry.append_only and entry.immutable
    assert entry.data_class == DataClass.CRITICAL
    assert entry.tenant == "workspace"
    workspace_history = registry.entry_for_model(apps.get_model("workspaces.HistoricalWorkspace"))
    assert workspace_history.tenant == "id"


def test_every_critical_mutable_model_has_history():
    for entry in registry.model_entries():
        if entry.data_class == DataClass.CRITICAL and not entry.history_of:
            assert registry.has_history(entry.model) or (entry.append_only and entry.immutable), (
                entry.key
            )


@pytest.mark.django_db
def test_backup_scope_selects_only_the_workspaces_rows_in_dependency_order():
    mine = WorkspaceFactory()
    ProjectFactory.create_batch(3, workspace=mine)
    ProjectFactory.create_batch(2)  # another workspace's
    scope = list(registry.backup_scope(mine))
    keys = [entry.key for entry, _ in scope]
    assert len(keys) == len(set(keys))
    # parents before children, history tables included
    assert keys.index("workspaces.Workspace") < keys.index("workspaces.Project")
    assert keys.index("workspaces.Workspace") < keys.index("workspaces.HistoricalProject")
    assert "workspaces.HistoricalWorkspace" in keys
    assert not any(registry.entry_for_key(k).is_global for k in keys)
    counts = {entry.key: qs.count() for entry, qs in scope}
    assert counts["workspaces.Workspace"] == 1
    assert counts["workspaces.Project"] == 3
    assert counts["workspaces.HistoricalProject"] == 3
    assert counts["workspaces.HistoricalWorkspace"] == 1


def test_backup_models_are_in_dependency_order():
    order = [e.key for e in registry.backup_models(include_global=True)]
    position = {key: i for i, key in enumerate(order)}
    for entry in registry.backup_models(include_global=True):
        for field in entry.model._meta.concrete_fields:
            if field.many_to_one and field.related_model is not None:
                target = field.related_model._meta.label
                if target in position and target != entry.key:
                    assert position[target] < position[entry.key], (entry.key, target)


def test_resolve_tenant_path():
    from workspaces.models import Workspace

    project = apps.get_model("workspaces.Project")
    assert registry.resolve_tenant_path(project, "workspace") is Workspace
    assert registry.resolve_tenant_path(project, "workspace__team") is not Workspace
    assert registry.resolve_tenant_path(project, "nope") is None
    assert registry.resolve_tenant_path(Workspace, registry.SELF) is Workspace
