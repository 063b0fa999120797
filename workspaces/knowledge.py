"""Project files and project skills: the writes (uploads, extraction status, skill CRUD).

A file's bytes are written once to default storage under the workspace prefix
(`workspaces/<workspace id>/projects/<project id>/files/<file id>`), so every workspace
backup carries them. The same bytes uploaded again to the same project return the first
row and start no new work. Indexing happens in `vectors`, announced through
`common.indexing` once the upload commits.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import IO

import yaml
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from rest_framework import status

from accounts.models import User
from common import indexing, limits
from common.exceptions import Conflict, NotFound, ServiceError, ValidationFailed
from governance.history import save_tracked

from .models import FileStatus, Project, ProjectFile, ProjectSkill


class PayloadTooLarge(ServiceError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"


def file_max_bytes() -> int:
    return int(getattr(settings, "FILE_MAX_BYTES", 25 * 1024 * 1024))


def file_blob_path(project: Project, file_id) -> str:
    return f"workspaces/{project.workspace_id}/projects/{project.pk}/files/{file_id}"


def _sha256(stream: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    stream.seek(0)
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
        size += len(block)
    stream.seek(0)
    return digest.hexdigest(), size


def project_file_upload(
    *, project: Project, name: str, stream: IO[bytes], actor: User | None, content_type: str = ""
) -> tuple[ProjectFile, bool]:
    """Store an uploaded file; `(file, created)`. The same bytes again return the first row."""
    name = (name or "").strip().replace("\x00", "")[:255]
    if not name:
        raise ValidationFailed("A file needs a name.", field="file")
    limit = file_max_bytes()
    sha256, size = _sha256(stream)
    if size > limit:
        raise PayloadTooLarge(
            f"This file is {size} bytes; files are at most {limit} bytes (FILE_MAX_BYTES).",
            field="file",
        )
    existing = ProjectFile.objects.filter(project=project, sha256=sha256).first()
    if existing is not None:
        return existing, False
    file_id = uuid.uuid4()
    path = file_blob_path(project, file_id)
    if default_storage.exists(path):
        raise Conflict("A blob already exists at this path; blobs are write-once.")
    saved = default_storage.save(path, File(stream, name=name))
    try:
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project.pk).first()  # serialise
            existing = ProjectFile.objects.filter(project=project, sha256=sha256).first()
            if existing is not None:  # a concurrent upload of the same bytes won
                default_storage.delete(saved)
                return existing, False
            limits.enforce(
                "storage_bytes", team=project.workspace.team, project=project, amount=size
            )
            row = ProjectFile(
                id=file_id,
                project=project,
                name=name,
                size=size,
                content_type=(content_type or "application/octet-stream")[:100],
                sha256=sha256,
                blob_path=saved,
                uploaded_by=actor,
            )
            save_tracked(row, actor=actor, reason="file uploaded")
            indexing.file_uploaded(row.pk)
    except BaseException:
        default_storage.delete(saved)
        raise
    return row, True


@transaction.atomic
def project_file_mark(
    *,
    file: ProjectFile,
    status: str,
    extraction_version: int,
    reason: str = "",
    page_count: int = 0,
    actor: User | None = None,
) -> ProjectFile:
    """Record an extraction outcome (`extracted` or `failed` with a one-sentence reason)."""
    if status not in (FileStatus.EXTRACTED, FileStatus.FAILED, FileStatus.PENDING):
        raise ValueError(f"unknown file status {status!r}")
    file.status = status
    file.failure_reason = reason[:500] if status == FileStatus.FAILED else ""
    file.extraction_version = extraction_version
    file.page_count = page_count
    save_tracked(
        file,
        actor=actor,
        reason=f"file {status}" + (f": {reason}" if reason else ""),
        update_fields=["status", "failure_reason", "extraction_version", "page_count"],
    )
    return file


# --- skills ------------------------------------------------------------------------------

SKILL_NAME = re.compile(r"^[a-z0-9]+(?:[-_ .][a-z0-9]+)*$")
FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def skill_name_norm(name: str) -> str:
    return " ".join((name or "").split()).lower()


def parse_skill_md(content: str) -> tuple[dict, str]:
    """(frontmatter, body) of a SKILL.md; the frontmatter is optional YAML mapping."""
    match = FRONTMATTER.match(content or "")
    if match is None:
        return {}, content or ""
    try:
        front = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"The frontmatter is not valid YAML: {exc}.", field="content")
    if not isinstance(front, dict):
        raise ValidationFailed("The frontmatter must be a YAML mapping.", field="content")
    for key in ("name", "description"):
        if key in front and not isinstance(front[key], str):
            raise ValidationFailed(f"The frontmatter's {key} must be a string.", field="content")
    return front, content[match.end() :]


def _skill_fields(*, name: str, description: str, content: str) -> tuple[str, str, str, dict]:
    front, _body = parse_skill_md(content)
    name = (name or front.get("name") or "").strip()
    description = description or front.get("description", "")
    norm = skill_name_norm(name)
    if not norm:
        raise ValidationFailed(
            "A skill needs a name (in the body or the frontmatter).", field="name"
        )
    if len(norm) > 120 or not SKILL_NAME.match(norm):
        raise ValidationFailed(
            "A skill name is letters, digits and single separators (- _ . or space).",
            field="name",
        )
    if front.get("name") and skill_name_norm(front["name"]) != norm:
        raise ValidationFailed(
            "The frontmatter's name differs from the skill's name.", field="content"
        )
    return name, norm, description, front


@transaction.atomic
def project_skill_create(
    *,
    project: Project,
    actor: User,
    name: str = "",
    description: str = "",
    content: str = "",
    metadata: dict | None = None,
) -> ProjectSkill:
    name, norm, description, front = _skill_fields(
        name=name, description=description, content=content
    )
    if ProjectSkill.objects.filter(project=project, name_norm=norm).exists():
        raise Conflict("This project already has a skill with this name.", field="name")
    skill = ProjectSkill(
        project=project,
        name=name,
        name_norm=norm,
        description=description,
        content=content,
        metadata={**(metadata or {}), "frontmatter": front} if front else (metadata or {}),
    )
    skill.full_clean()
    save_tracked(skill, actor=actor, reason="skill created")
    return skill


@transaction.atomic
def project_skill_update(*, skill: ProjectSkill, actor: User, **fields) -> ProjectSkill:
    merged = {
        "name": fields.get("name", skill.name),
        "description": fields.get("description", skill.description),
        "content": fields.get("content", skill.content),
    }
    name, norm, description, front = _skill_fields(**merged)
    if (
        norm != skill.name_norm
        and ProjectSkill.objects.filter(project_id=skill.project_id, name_norm=norm).exists()
    ):
        raise Conflict("This project already has a skill with this name.", field="name")
    metadata = dict(fields.get("metadata", skill.metadata) or {})
    if front:
        metadata["frontmatter"] = front
    else:
        metadata.pop("frontmatter", None)
    new = {
        "name": name,
        "name_norm": norm,
        "description": description,
        "content": merged["content"],
        "metadata": metadata,
    }
    changed = [k for k, v in new.items() if getattr(skill, k) != v]
    for k in changed:
        setattr(skill, k, new[k])
    if changed:
        skill.full_clean()
        save_tracked(
            skill, actor=actor, reason=f"skill updated: {', '.join(changed)}", update_fields=changed
        )
    return skill


@transaction.atomic
def project_skill_delete(*, skill: ProjectSkill, actor: User) -> None:
    """Delete a skill; its history keeps every version (and the deletion)."""
    skill._history_user = actor  # type: ignore[attr-defined]  # simple-history reads it
    skill._change_reason = "skill deleted"  # type: ignore[attr-defined]
    skill.delete()


def project_skill_get(*, project: Project, skill_id) -> ProjectSkill:
    skill = ProjectSkill.objects.filter(project=project, pk=skill_id).first()
    if skill is None:
        raise NotFound("Skill not found.")
    return skill
