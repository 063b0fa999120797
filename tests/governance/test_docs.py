"""docs/data-classes.md is generated from the registry and must be fresh."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from governance.docs import doc_path, render
from governance.registry import DataClass, register_store


def test_checked_in_file_is_fresh():
    assert doc_path().read_text(encoding="utf-8") == render(), (
        "docs/data-classes.md is stale: run `python manage.py data_classes_doc`"
    )


def test_generation_is_deterministic_and_covers_rules_and_entries():
    text = render()
    assert text == render()
    assert "If in doubt, treat it as critical" in text
    assert "`holdfast.E007`" in text
    assert "`workspaces.Project`" in text and "`sessions.Session`" in text


def test_check_flag_fails_when_stale_and_write_refreshes(tmp_path, settings, scratch_registry):
    settings.BASE_DIR = tmp_path
    (tmp_path / "docs").mkdir()
    call_command("data_classes_doc")
    call_command("data_classes_doc", "--check")
    register_store(
        "test.new_store", DataClass.EPHEMERAL, storage="Redis keys t:*", reason="new", ttl=5
    )
    with pytest.raises(CommandError, match="stale"):
        call_command("data_classes_doc", "--check")
    call_command("data_classes_doc")
    assert "test.new_store" in (tmp_path / "docs" / "data-classes.md").read_text()
