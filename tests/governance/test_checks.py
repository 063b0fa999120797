"""The holdfast.E0xx system checks: clean on the real project, tripped by each bad example."""

import os
import tempfile

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from governance import checks
from governance.registry import GLOBAL, DataClass, register_model, register_store


def holdfast_ids(**kwargs) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in run_checks(tags=["holdfast"], **kwargs):
        found.setdefault(message.id, []).append(message.msg)
    return found


def test_real_project_is_clean():
    assert holdfast_ids() == {}
    call_command("check")  # raises SystemCheckError on any error


@pytest.mark.django_db
def test_database_check_is_clean_on_migrated_database():
    assert [m for m in run_checks(databases=["default"]) if m.id.startswith("holdfast")] == []


# --- E001 -----------------------------------------------------------------------------


def test_e001_unregistered_model(scratch_registry):
    scratch_registry.unregister("workspaces.Project")
    found = holdfast_ids()
    assert any("workspaces.Project" in m for m in found["holdfast.E001"])
    with pytest.raises(SystemCheckError, match="holdfast.E001"):
        call_command("check")


def test_e001_unregistered_history_follows_its_model(scratch_registry):
    """History tables inherit the entry; unregistering the model leaves its history unregistered."""
    scratch_registry.unregister("workspaces.Project")
    assert any("workspaces.HistoricalProject" in m for m in holdfast_ids()["holdfast.E001"])


# --- E002 -----------------------------------------------------------------------------


def test_e002_critical_model_without_history(scratch_registry):
    register_model(
        "governance.PurgePermit",
        DataClass.CRITICAL,
        tenant=GLOBAL,
        reason="deliberately bad: critical, mutable, no history",
    )
    assert any("governance.PurgePermit" in m for m in holdfast_ids()["holdfast.E002"])


def test_e002_accepts_append_only_immutable(scratch_registry):
    register_model(
        "governance.PurgePermit",
        DataClass.CRITICAL,
        tenant=GLOBAL,
        reason="append-only and immutable instead of history",
        append_only=True,
        immutable=True,
    )
    assert "holdfast.E002" not in holdfast_ids()


# --- E003 -----------------------------------------------------------------------------


def test_e003_tenant_path_that_misses_the_workspace(scratch_registry):
    register_model(
        "workspaces.Project",
        DataClass.CRITICAL,
        tenant="workspace__team",  # leads to a Team, not a Workspace
        reason="deliberately bad tenant path",
    )
    assert any("workspaces.Project" in m for m in holdfast_ids()["holdfast.E003"])


def test_e003_tenant_path_that_does_not_exist(scratch_registry):
    register_model(
        "workspaces.Project", DataClass.CRITICAL, tenant="nowhere", reason="deliberately bad"
    )
    assert "holdfast.E003" in holdfast_ids()


# --- E004 -----------------------------------------------------------------------------


def test_e004_critical_model_outside_backups(scratch_registry):
    register_model(
        "workspaces.Project",
        DataClass.CRITICAL,
        tenant="workspace",
        reason="deliberately bad: not backed up",
        backup=False,
    )
    assert any("workspaces.Project" in m for m in holdfast_ids()["holdfast.E004"])


def test_e004_critical_store_outside_backups(scratch_registry):
    register_store(
        "test.blobs",
        DataClass.CRITICAL,
        storage="default storage: blobs/{id}",
        reason="deliberately bad",
        backup=False,
    )
    assert "holdfast.E004" in holdfast_ids()


# --- E005 -----------------------------------------------------------------------------


def overwriting_writer(path, line):
    with open(path, "w") as fh:
        fh.write(line)


def appending_writer(path, line):
    with open(path, "ab") as fh:
        fh.write(line)


def atomic_writer(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _semi(name, writer, **flags):
    flags.setdefault("tolerant_reader", True)
    return register_store(
        name,
        DataClass.SEMI_CRITICAL,
        storage=f".cache/{name}.jsonl",
        reason="test store",
        writer=writer,
        **flags,
    )


def test_e005_writer_that_overwrites(scratch_registry):
    _semi("test.kpi", overwriting_writer, append_only=True)
    messages = holdfast_ids()["holdfast.E005"]
    assert any("test.kpi" in m and "'w'" in m for m in messages)


def test_e005_not_declared_append_only_or_tolerant(scratch_registry):
    _semi("test.kpi", appending_writer, tolerant_reader=False)
    message = " ".join(holdfast_ids()["holdfast.E005"])
    assert "append_only" in message and "tolerant" in message


def test_e005_missing_writer(scratch_registry):
    _semi("test.kpi", None, append_only=True)
    assert "holdfast.E005" in holdfast_ids()


def test_e005_atomic_replace_without_replace(scratch_registry):
    _semi("test.priors", overwriting_writer, atomic_replace=True)
    assert any("os.replace" in m for m in holdfast_ids()["holdfast.E005"])


def pathlib_atomic_writer(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def pathlib_appending_writer(path, line):
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)


def test_e005_accepts_appending_and_atomic_writers(scratch_registry):
    _semi("test.kpi", appending_writer, append_only=True)
    _semi("test.kpi2", pathlib_appending_writer, append_only=True)
    _semi("test.priors", atomic_writer, atomic_replace=True)
    _semi("test.priors2", pathlib_atomic_writer, atomic_replace=True)
    assert "holdfast.E005" not in holdfast_ids()


def test_e005_pathlib_write_text_is_not_appending(scratch_registry):
    _semi("test.kpi", pathlib_atomic_writer, append_only=True)
    assert any("write_text" in m for m in holdfast_ids()["holdfast.E005"])


def test_writer_problems_flags_truncation_and_deletion():
    def bad(path):
        path.write_text("x")
        os.remove(path)

    problems = checks.writer_problems(bad, atomic_replace=False)
    assert any("write_text" in p for p in problems)
    assert any("remove" in p for p in problems)


# --- E006 -----------------------------------------------------------------------------


def _ephemeral(name, **flags):
    register_store(
        name, DataClass.EPHEMERAL, storage=f"Redis keys {name}:*", reason="test", **flags
    )


def test_e006_ephemeral_without_ttl_or_cleanup(scratch_registry):
    _ephemeral("test.scratch")
    assert any("test.scratch" in m for m in holdfast_ids()["holdfast.E006"])


@pytest.mark.parametrize(
    "cleanup",
    ["someone deletes it by hand", "removed after a check", "deployments.not_scheduled"],
)
def test_e006_cleanup_that_names_no_job(scratch_registry, cleanup):
    _ephemeral("test.scratch", cleanup=cleanup)
    assert any("test.scratch" in m for m in holdfast_ids()["holdfast.E006"])


@pytest.mark.parametrize(
    "flags",
    [
        {"ttl": 60},
        {"cleanup": "deployments.reap_sandbox_jobs"},  # a task in the beat schedule
        {"cleanup": "`manage.py clearsessions` weekly"},  # a management command
    ],
    ids=["ttl", "beat-task", "command"],
)
def test_e006_accepts_ttl_beat_task_or_command(scratch_registry, flags):
    _ephemeral("test.scratch", **flags)
    assert "holdfast.E006" not in holdfast_ids()


# --- E007 -----------------------------------------------------------------------------

BAD_SOURCE = '''
from django.conf import settings
KPI = settings.CACHE_DIR / "kpi.seen.jsonl"
PRIORS = ".cache/token.priors.json"
def per_workspace(ws):
    return f".cache/ws/{ws}/events.jsonl"
"""A docstring that mentions .cache/ in prose is not a path."""
'''


@pytest.fixture
def source_tree(tmp_path, settings):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "stores.py").write_text(BAD_SOURCE)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "lib.py").write_text('X = ".cache/ignored.json"\n')
    settings.HOLDFAST_SOURCE_ROOTS = [str(tmp_path)]
    return tmp_path


def test_e007_unregistered_cache_literals(source_tree, scratch_registry):
    messages = holdfast_ids()["holdfast.E007"]
    text = " ".join(messages)
    assert len(messages) == 3, messages
    for literal in (".cache/kpi.seen.jsonl", ".cache/token.priors.json", ".cache/ws/*/events"):
        assert literal in text
    assert "ignored" not in text


def test_e007_registered_stores_cover_their_literals(source_tree, scratch_registry):
    for name, storage in [
        ("test.kpi", "$HOLDFAST_DATA_DIR/.cache/kpi.seen.jsonl"),
        ("test.priors", ".cache/token.priors.json"),
        ("test.ws", ".cache/ws/{workspace_id}/events.jsonl"),
    ]:
        register_store(
            name,
            DataClass.EPHEMERAL,
            storage=storage,
            reason="test",
            ttl=60,
        )
    assert "holdfast.E007" not in holdfast_ids()


def test_e007_scans_the_real_project_by_default():
    assert checks.source_roots()
    assert checks.rule_cache_literals() == []


# --- E008 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "storage", [".cache/invoices.json", "Redis hash invoices:{id}", "folder: data/invoices/"]
)
def test_e008_critical_data_only_in_cache_redis_or_files(scratch_registry, storage):
    register_store("test.invoices", DataClass.CRITICAL, storage=storage, reason="bad", backup=True)
    assert any("test.invoices" in m for m in holdfast_ids()["holdfast.E008"])


# --- E009 -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_e009_immutable_declared_but_no_triggers(scratch_registry):
    register_model(
        "governance.PurgePermit",
        DataClass.EPHEMERAL,
        tenant=GLOBAL,
        reason="declared immutable, but its table has no triggers",
        ttl=0,
        immutable=True,
        append_only=True,
    )
    messages = [m for m in run_checks(databases=["default"]) if m.id == "holdfast.E009"]
    assert any("governance.PurgePermit" in m.msg for m in messages)
    assert "holdfast.E009" not in holdfast_ids()  # without databases the check does not query


# --- E010 -----------------------------------------------------------------------------


def test_e010_registration_of_a_missing_model(scratch_registry):
    register_model("nowhere.Missing", DataClass.CRITICAL, tenant=GLOBAL, reason="stale")
    assert any("nowhere.Missing" in m for m in holdfast_ids()["holdfast.E010"])
