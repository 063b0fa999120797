"""Export jobs (seed 001 export_jobs): EPUB (EbookLib) and PDF (fpdf2) built from the chapters
and `manuscript/metadata.yml` at the branch head, queued on Celery with status and progress,
stored through Django storage, downloaded through a short-lived signed link, and expired
after 30 days by a beat job that removes the file (the row stays, as the record)."""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import timedelta
from pathlib import Path

from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from fpdf.errors import FPDFException

from common.exceptions import Conflict, NotFound, ValidationFailed
from workspaces.models import Project

from .. import draftforge as df
from ..git import GitError, backend_for
from ..sync_models import ExportFormat, ExportJob, ExportStatus
from ._common import _project_prefix, _save
from .repo_sync import source_repo, state_for

logger = logging.getLogger(__name__)

EXPORT_RETENTION = timedelta(days=30)
LINK_SECONDS = 300
_SALT = "holdfast.export-download"
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)


@transaction.atomic
def export_create(*, project: Project, format: str, actor) -> ExportJob:
    if format not in ExportFormat.values:
        raise ValidationFailed("Export as epub or pdf.", field="format")
    repo = source_repo(project=project)
    if repo is None:
        raise ValidationFailed(
            "Connect a repository first: exports are built from it.", field="format"
        )
    job = ExportJob(project=project, repo=repo, format=format, created_by=actor)
    _save(job, actor, reason="export queued")
    from ..sync_tasks import export_build as export_task

    transaction.on_commit(lambda: export_task.delay(str(job.pk)))
    return job


def _progress(job: ExportJob, progress: int, **fields) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    job.progress = progress
    _save(job, None, ["progress", *fields], reason=f"export {progress}%")


def _chapters(repo) -> tuple[str, list[tuple[str, str]], dict]:
    backend = backend_for(repo)
    head = backend.head(repo.default_branch)
    if head is None:
        raise GitError("The repository has no commits.")
    state = state_for(repo=repo)
    dirs = df.directories(state.settings)
    chapters = [
        (path, backend.blob(sha).decode("utf-8", "replace"))
        for path, sha in sorted(backend.tree(head).items())
        if df.text_kind(path, dirs) == "chapters"
    ]
    metadata = state.metadata
    if not metadata:
        data = backend.read(head, df.METADATA)
        metadata = df.parse_yaml(data, path=df.METADATA, schema_name="metadata") if data else {}
    return head, chapters, metadata


def _author(metadata: dict) -> str:
    author = metadata.get("author")
    if isinstance(author, dict):
        return str(author.get("name") or "")
    return str(author or "")


def _html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown)


def build_epub(chapters, metadata, *, identifier: str) -> bytes:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(identifier)
    book.set_title(str(metadata.get("title") or "Untitled"))
    book.set_language(str(metadata.get("language") or "en"))
    if _author(metadata):
        book.add_author(_author(metadata))
    if metadata.get("description"):
        book.add_metadata("DC", "description", str(metadata["description"]))
    items = []
    for n, (path, text) in enumerate(chapters, start=1):
        item = epub.EpubHtml(
            title=df.title_of(path, text.encode()), file_name=f"chapter-{n:03d}.xhtml"
        )
        item.content = _html(text)
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def build_pdf(chapters, metadata) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    below = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    font = next(
        (Path(d) / "DejaVuSerif.ttf" for d in FONT_DIRS if (Path(d) / "DejaVuSerif.ttf").exists()),
        None,
    )
    if font is not None:
        pdf.add_font("body", "", str(font))
        pdf.add_font("body", "B", str(font.with_name("DejaVuSerif-Bold.ttf")))
        pdf.add_font("body", "I", str(font.with_name("DejaVuSerif-Italic.ttf")))
        family = "body"

        def text_of(s):
            return s
    else:  # the core fonts carry Latin-1 only
        family = "Times"

        def text_of(s):
            return s.encode("latin-1", "replace").decode("latin-1")

    title = str(metadata.get("title") or "Untitled")
    pdf.set_title(title)
    if _author(metadata):
        pdf.set_author(_author(metadata))
    pdf.add_page()
    pdf.set_font(family, "B", 24)
    pdf.multi_cell(0, 12, text_of(title), **below)
    if _author(metadata):
        pdf.set_font(family, "", 14)
        pdf.multi_cell(0, 10, text_of(_author(metadata)), **below)
    for _path, text in chapters:
        pdf.add_page()
        pdf.set_font(family, "", 12)
        pdf.write_html(text_of(_html(text)))
    return bytes(pdf.output())


def export_build(*, job_id) -> ExportJob | None:
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != ExportStatus.QUEUED:
            return job
        _progress(job, 5, status=ExportStatus.RUNNING)
    try:
        if job.repo is None:
            raise GitError("The repository was disconnected.")
        head, chapters, metadata = _chapters(job.repo)
        _progress(job, 30, commit_sha=head)
        if job.format == ExportFormat.EPUB:
            data = build_epub(chapters, metadata, identifier=f"holdfast-{job.pk}")
        else:
            data = build_pdf(chapters, metadata)
        _progress(job, 80)
        path = f"{_project_prefix(job.project)}/exports/{job.pk}.{job.format}"
        name = default_storage.save(path, ContentFile(data))
    except (GitError, df.InvalidFile, OSError, ValueError, RuntimeError, FPDFException) as exc:
        logger.warning("export %s failed: %s", job.pk, exc)
        with transaction.atomic():
            _progress(
                job,
                job.progress,
                status=ExportStatus.FAILED,
                error=str(exc)[:2000],
                expires_at=timezone.now() + EXPORT_RETENTION,
            )
        return job
    with transaction.atomic():
        _progress(
            job,
            100,
            status=ExportStatus.READY,
            file_path=name,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            expires_at=timezone.now() + EXPORT_RETENTION,
        )
    return job


def export_link(*, job: ExportJob) -> tuple[str, int]:
    """A signed token for the download route, valid LINK_SECONDS."""
    if job.status != ExportStatus.READY:
        raise Conflict(f"This export is {job.status}; only a ready export can be downloaded.")
    return signing.TimestampSigner(salt=_SALT).sign(str(job.pk)), LINK_SECONDS


def export_for_token(*, token: str) -> ExportJob:
    try:
        job_id = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=LINK_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired
        raise NotFound("This download link is invalid or has expired.")
    job = ExportJob.objects.filter(pk=job_id, status=ExportStatus.READY).first()
    if job is None or not job.file_path:
        raise NotFound("This export is no longer available.")
    return job


def exports_expire(*, now=None) -> int:
    """The beat job: past their 30 days, exports lose their file and become `expired`."""
    now = now or timezone.now()
    expired = 0
    for job in ExportJob.objects.filter(
        status__in=[ExportStatus.READY, ExportStatus.FAILED], expires_at__lte=now
    ).iterator():
        with transaction.atomic():
            job = ExportJob.objects.select_for_update().get(pk=job.pk)
            if job.file_path:
                default_storage.delete(job.file_path)
            job.status, job.file_path = ExportStatus.EXPIRED, ""
            _save(job, None, ["status", "file_path"], reason="export expired")
            expired += 1
    return expired
