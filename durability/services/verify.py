"""Verifying a backup: every checksum, then a restore into a scratch database compared
with the manifest; the outcome is recorded on the catalogue and as an AuditEvent.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction
from django.db.utils import load_backend
from django.utils import timezone

from accounts.models import User
from common.exceptions import NotFound, ValidationFailed
from durability import archive, rows
from durability.models import BackupRecord, VerifyStatus
from durability.selectors import newest_backups
from durability.services._shared import Digest, Progress
from durability.services.chain import is_delta
from durability.services.restore import catalogue, delta_count_problems, fetch_chain, load_chain
from durability.services.scope import workspace_scope
from governance import registry
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Workspace


@contextmanager
def scratch_database() -> Iterator[str]:
    """A migrated, empty, throw-away database as a connection alias (SQLite file or PG db)."""
    base = dict(connections["default"].settings_dict)
    alias = f"verify_{uuid.uuid4().hex[:8]}"
    vendor = connections["default"].vendor
    tmpdir = None
    admin: dict[str, Any] = {}
    if vendor == "postgresql":
        name = f"{base['NAME']}_{alias}"[:63]
        admin = _pg_admin(base)
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        tmpdir = tempfile.TemporaryDirectory(prefix="holdfast-verify-")
        name = os.path.join(tmpdir.name, "scratch.sqlite3")
    # A connection made here and not added to settings.DATABASES: it exists only for
    # this drill (and Django's test isolation treats it as the dynamic connection it is).
    config = {**base, "NAME": name, "TEST": {**base.get("TEST", {})}}
    connections[alias] = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    try:
        call_command("migrate", database=alias, verbosity=0, interactive=False, skip_checks=True)
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        if vendor == "postgresql":
            with psycopg.connect(**admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif tmpdir is not None:
            tmpdir.cleanup()


def _pg_admin(base: dict[str, Any]) -> dict[str, Any]:
    params = {
        "dbname": base["NAME"],
        "user": base.get("USER") or None,
        "password": base.get("PASSWORD") or None,
        "host": base.get("HOST") or None,
        "port": base.get("PORT") or None,
    }
    return {k: v for k, v in params.items() if v}


def backup_verify(
    *,
    backup_id: str,
    actor: User | None = None,
    scratch: bool = True,
    progress: Progress = None,
) -> dict[str, Any]:
    """Check every checksum, restore into a scratch database and compare with the manifest.

    Records the outcome on the BackupRecord and as an AuditEvent ("verify"). Returns
    {"ok": bool, "problems": [...], "parts": n, "rows": n}.
    """
    problems: list[str] = []
    manifest = None
    checked_rows = 0
    try:
        manifest = archive.read_manifest(backup_id)
    except (NotFound, ValidationFailed) as exc:
        problems.append(str(exc))
    if manifest is not None:
        with archive.scratch_dir() as tmp:
            manifests: list[dict[str, Any]] = []
            try:
                manifests = fetch_chain(backup_id, tmp, progress)
            except (NotFound, ValidationFailed) as exc:
                problems.append(str(exc))
            problems += [p for m in manifests for p in m["_problems"]]
            if not problems and scratch:
                try:
                    checked_rows = _verify_in_scratch(manifests, progress)
                except (ValidationFailed, DatabaseError) as exc:
                    problems.append(f"restoring into a scratch database failed: {exc}")
                except _Mismatch as exc:
                    problems.append(str(exc))
    ok = not problems
    now = timezone.now()
    record = BackupRecord.objects.filter(backup_id=backup_id).first()
    if record is None and manifest is not None and "workspace" in manifest:
        record = catalogue(manifest)
    if record is not None:
        record.verified_at = now
        record.verify_status = VerifyStatus.PASSED if ok else VerifyStatus.FAILED
        record.verify_detail = "; ".join(problems)[:4000]
        record.save(update_fields=["verified_at", "verify_status", "verify_detail", "updated_at"])
    ws_id = manifest["workspace"]["id"] if manifest and "workspace" in manifest else None
    audit_record(
        action=AuditAction.VERIFY,
        summary=f"Verification of backup {backup_id}: {'passed' if ok else 'FAILED'}",
        actor=actor,
        workspace=Workspace.objects.filter(pk=ws_id).first() if ws_id else None,
        target=record,
        data={"backup_id": backup_id, "ok": ok, "problems": problems, "rows": checked_rows},
    )
    return {
        "ok": ok,
        "problems": problems,
        "parts": len(manifest["parts"]) if manifest else 0,
        "rows": checked_rows,
    }


class _Mismatch(Exception):
    pass


def _verify_in_scratch(manifests: list[dict[str, Any]], progress: Progress) -> int:
    manifest = manifests[-1]
    same_vendor = manifest.get("vendor") == connections["default"].vendor
    with scratch_database() as alias:
        with transaction.atomic(using=alias):
            loaded = load_chain(manifests, using=alias, team_existed=False, progress=progress)
        if is_delta(manifest):
            return _compare_delta(manifest, alias, same_vendor)
        if "workspace" not in manifest:  # an instance backup: every global table whole
            return _compare_whole_tables(manifest, alias, same_vendor, loaded)
        workspace = Workspace.objects.using(alias).get(pk=manifest["workspace"]["id"])
        expected = {p["model"]: p for p in manifest["parts"]}
        total = 0
        for entry, queryset, info in workspace_scope(workspace, using=alias):
            part = expected.pop(entry.key, None)
            if part is None:
                raise _Mismatch(f"the scratch restore has a part {entry.key} the backup lacks")
            if info.get("scope") == "workspace":
                queryset = rows.in_load_order(queryset, using=alias)
            digest = Digest()
            count = rows.export(queryset, using=alias, write=digest.sha.update)
            if count != part["rows"] or count != loaded[entry.key]:
                raise _Mismatch(
                    f"{entry.key}: {count} rows after restore, the manifest says {part['rows']}"
                )
            if (
                same_vendor
                and part.get("encoding") == rows.ENCODING
                and digest.hexdigest() != part["content_digest"]
            ):
                raise _Mismatch(f"{entry.key}: restored rows differ from the backed-up rows")
            total += count
        leftover = [k for k, p in expected.items() if p["rows"]]
        if leftover:
            raise _Mismatch(f"parts not found after restore: {', '.join(leftover)}")
        return total


def _compare_whole_tables(
    manifest: dict[str, Any], alias: str, same_vendor: bool, loaded: dict[str, int]
) -> int:
    known = {e.key: e for e in registry.backup_models(include_global=True)}
    total = 0
    for part in manifest["parts"]:
        model = known[part["model"]].model
        digest = Digest()
        queryset = model._default_manager.using(alias).order_by("pk")
        count = rows.export(queryset, using=alias, write=digest.sha.update)
        if count != part["rows"] or count != loaded[part["model"]]:
            raise _Mismatch(
                f"{part['model']}: {count} rows after restore, the manifest says {part['rows']}"
            )
        if (
            same_vendor
            and part.get("encoding") == rows.ENCODING
            and digest.hexdigest() != part["content_digest"]
        ):
            raise _Mismatch(f"{part['model']}: restored rows differ from the backed-up rows")
        total += count
    return total


def _compare_delta(manifest: dict[str, Any], alias: str, same_vendor: bool) -> int:
    """A delta restored into scratch holds exactly the keys it lists, model by model."""
    problems = delta_count_problems(manifest, using=alias, strict=True)
    if problems:
        raise _Mismatch("; ".join(problems))
    workspace = Workspace.objects.using(alias).get(pk=manifest["workspace"]["id"])
    parts = {p["model"]: p for p in manifest["parts"] if p.get("scope") == "workspace"}
    total = 0
    for entry, queryset, info in workspace_scope(workspace, using=alias):
        part = parts.get(entry.key)
        if info.get("scope") != "workspace" or part is None or "file" not in part["keys"]:
            continue  # an immutable model's delta records its count only (compared above)
        digest = Digest()
        count = rows.export_keys(queryset, using=alias, write=digest.sha.update)
        if same_vendor and digest.hexdigest() != part["keys"]["content_digest"]:
            raise _Mismatch(f"{entry.key}: the restored keys differ from the backed-up keys")
        total += count
    return total


def scheduled_verify() -> dict[str, bool]:
    """The beat drill: verify the newest successful backup of every workspace."""
    return {r.workspace_slug: backup_verify(backup_id=r.backup_id)["ok"] for r in newest_backups()}
