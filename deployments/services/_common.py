"""Shared private helpers of the shipping-pipeline services: errors, locking, saving,
idempotency lookups, role checks and write-once blobs."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework import status as http_status

from accounts.models import role_at_least
from accounts.selectors import team_role
from common.exceptions import Conflict, Forbidden, ServiceError, ValidationFailed
from workspaces.models import Project

SLUGISH = re.compile(r"^[a-z0-9][a-z0-9._\-]{0,63}$")

# --- errors ---------------------------------------------------------------------------


class ApprovalRefused(Forbidden):
    """The side effect was refused: no usable approval covers this exact action."""

    default_code = "approval_required"


class IllegalTransition(Conflict):
    default_code = "illegal_transition"


class ProviderFailed(ServiceError):
    status_code = http_status.HTTP_502_BAD_GATEWAY
    default_code = "provider_error"


# --- helpers -------------------------------------------------------------------------------


def canonical_json(payload: Any) -> bytes:
    """The bytes approvals hash: keys sorted, separators `,` and `:`, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def payload_sha256(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _lock_project(project: Project) -> Project:
    return Project.objects.select_for_update().get(pk=project.pk)


def _save(obj, actor, update_fields: list[str] | None = None, reason: str = "") -> None:
    obj._history_user = actor if actor is not None and actor.is_authenticated else None
    label = obj._meta.verbose_name
    obj._change_reason = reason or (
        f"{label} updated: {', '.join(update_fields)}" if update_fields else f"{label} saved"
    )
    if update_fields is not None:
        obj.save(update_fields=[*update_fields, "updated_at"])
    else:
        obj.save()


def _existing(model, project: Project, idempotency_key: str):
    if not idempotency_key:
        return None
    return model.objects.filter(project=project, idempotency_key=idempotency_key).first()


def _role(project: Project, user) -> str | None:
    return team_role(user=user, team_id=project.workspace.team_id)


def _require_role(project: Project, user, minimum: str, message: str) -> None:
    if not role_at_least(_role(project, user), minimum):
        raise Forbidden(message)


def _write_once(path: str, data: bytes) -> None:
    """Store a blob at exactly `path`; an existing blob there is never replaced."""
    if default_storage.exists(path):
        raise Conflict("A blob already exists at this path; blobs are write-once.")
    name = default_storage.save(path, ContentFile(data))
    if name != path:  # the storage picked another name: someone wrote `path` meanwhile
        default_storage.delete(name)
        raise Conflict("A blob already exists at this path; blobs are write-once.")


def _project_prefix(project: Project) -> str:
    return f"workspaces/{project.workspace_id}/projects/{project.pk}"


def _check_same_project(project: Project, **objects) -> None:
    for field, obj in objects.items():
        if obj is not None and obj.project_id != project.pk:
            raise ValidationFailed("This belongs to another project.", field=field)


def _validate_slugish(value: str, field: str) -> None:
    if not SLUGISH.match(value or ""):
        raise ValidationFailed(
            "Use 1-64 lowercase letters, digits, '.', '-' or '_', starting with a letter or digit.",
            field=field,
        )
