"""Previews: immutable versions (blob + row) and the active-version pointer."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max

from accounts.models import Role
from common.exceptions import Conflict, ValidationFailed
from governance.models import AuditAction
from governance.services import audit_record
from workspaces.models import Project

from ..models import (
    Preview,
    PreviewVersion,
)
from ._common import (
    _require_role,
    _save,
    _write_once,
)

# --- previews ------------------------------------------------------------------------------


@transaction.atomic
def preview_create(*, project: Project, slug: str, actor, visibility: str = "team") -> Preview:
    if Preview.objects.filter(slug=slug).exists():
        raise Conflict("This preview slug is taken.", field="slug")
    preview = Preview(
        slug=slug,
        workspace_id=project.workspace_id,
        project=project,
        visibility=visibility,
        created_by=actor,
    )
    preview.full_clean()
    _save(preview, actor)
    return preview


@transaction.atomic
def preview_update(*, preview: Preview, actor, visibility: str) -> Preview:
    if preview.visibility != visibility:
        preview.visibility = visibility
        preview.full_clean()
        _save(preview, actor, ["visibility"])
    return preview


def preview_blob_path(preview: Preview, version: int) -> str:
    return f"workspaces/{preview.workspace_id}/previews/{preview.pk}/{version}.json"


@transaction.atomic
def preview_version_create(
    *, preview: Preview, content: Any, actor, activate: bool = True
) -> PreviewVersion:
    """Append an immutable version (blob + row); by default it becomes the active one."""
    data = json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
    preview = Preview.objects.select_for_update().get(pk=preview.pk)
    latest = PreviewVersion.objects.filter(preview=preview).aggregate(v=Max("version"))["v"]
    number = (latest or 0) + 1
    path = preview_blob_path(preview, number)
    if default_storage.exists(path):
        # No row owns this blob (we hold the preview lock and version `number` has no row):
        # it is the leftover of an attempt whose transaction rolled back.
        default_storage.delete(path)
    _write_once(path, data)
    try:
        with transaction.atomic():
            version = PreviewVersion(
                preview=preview,
                version=number,
                blob_path=path,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                created_by=actor,
            )
            version.save(force_insert=True)
            if activate:
                preview.active_version = number
                _save(preview, actor, ["active_version"])
    except BaseException:
        default_storage.delete(path)
        raise
    return version


@transaction.atomic
def preview_rollback(*, preview: Preview, version: int, actor) -> Preview:
    """Point the preview at an earlier (or later) version. Only the pointer changes."""
    preview = Preview.objects.select_for_update().select_related("workspace").get(pk=preview.pk)
    _require_role(
        preview.project, actor, Role.ADMIN, "Only a workspace admin or owner can roll back."
    )
    if not PreviewVersion.objects.filter(preview=preview, version=version).exists():
        raise ValidationFailed("This preview has no such version.", field="version")
    previous = preview.active_version
    if previous == version:
        return preview
    preview.active_version = version
    _save(preview, actor, ["active_version"])
    audit_record(
        action=AuditAction.ROLLBACK,
        summary=f"Preview {preview.slug} rolled back from v{previous} to v{version}",
        actor=actor,
        workspace=preview.workspace,
        target=preview,
        data={"from_version": previous, "to_version": version},
    )
    return preview
