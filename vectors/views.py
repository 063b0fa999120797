"""Knowledge pages: the project page's Files section, a file's page, the search page."""

from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from common.exceptions import NotFound, ServiceError
from workspaces import knowledge
from workspaces.models import ProjectFile, ProjectSkill
from workspaces.pages import form_error, page_context, paginate, workspace_page
from workspaces.views import project_get_by_slug, project_response

from . import repos, services
from .forms import FileUploadForm, SearchForm, SkillEditForm, SkillForm
from .models import Chunk, Citation


def knowledge_panel(request, access, *, project, forms, **page) -> dict:
    """The project page's Files section: files, skills, upload and skill forms.

    A skill's edit form that failed (`forms["skill_edit"]`) is re-shown, open, in its row."""
    edit = forms.get("skill_edit")
    return {
        "project": project,
        "files": paginate(
            request,
            ProjectFile.objects.filter(project=project).order_by("-created_at"),
            param="files_page",
            per_page=10,
        ),
        "skills": [
            {"skill": s, "form": edit if edit is not None and edit.skill_id == s.pk else None}
            for s in ProjectSkill.objects.filter(project=project).order_by("name_norm")[:50]
        ],
        "upload_form": forms.get("upload") or FileUploadForm(),
        "skill_form": forms.get("skill") or SkillForm(),
    }


def artifact_citations_panel(request, access, *, project, artifact, **page) -> dict:
    """The artifact page's Citations section: the chunks of files the artifact rests on."""
    return {
        "project": project,
        "citations": list(
            Citation.objects.filter(project=project, source_kind="artifact", source_id=artifact.pk)
            .select_related("file")
            .order_by("created_at")[:200]
        ),
    }


def _back(access, project, anchor="knowledge"):
    return redirect(f"/w/{access.workspace.slug}/p/{project.slug}/?tab=knowledge#{anchor}")


@workspace_page()
@require_POST
def file_upload(request, access, project_slug):
    project = project_get_by_slug(access, project_slug)
    form = FileUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            knowledge.project_file_upload(
                project=project,
                name=upload.name,
                stream=upload,
                content_type=upload.content_type or "",
                actor=request.user,
            )
        except ServiceError as exc:
            form_error(form, exc)
        else:
            return _back(access, project)
    return project_response(request, access, project, forms={"upload": form}, tab="knowledge")


@workspace_page()
@require_POST
def skill_create(request, access, project_slug):
    project = project_get_by_slug(access, project_slug)
    form = SkillForm(request.POST)
    if form.is_valid():
        try:
            knowledge.project_skill_create(project=project, actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form_error(form, exc)
        else:
            return _back(access, project)
    return project_response(request, access, project, forms={"skill": form}, tab="knowledge")


@workspace_page()
@require_POST
def skill_update(request, access, project_slug, skill_id):
    project = project_get_by_slug(access, project_slug)
    skill = knowledge.project_skill_get(project=project, skill_id=skill_id)
    form = SkillEditForm(request.POST, skill_id=skill.pk)
    if form.is_valid():
        try:
            knowledge.project_skill_update(skill=skill, actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form_error(form, exc)
        else:
            return _back(access, project, f"skill-{skill.pk}")
    return project_response(request, access, project, forms={"skill_edit": form}, tab="knowledge")


@workspace_page()
@require_POST
def skill_delete(request, access, project_slug, skill_id):
    project = project_get_by_slug(access, project_slug)
    skill = knowledge.project_skill_get(project=project, skill_id=skill_id)
    knowledge.project_skill_delete(skill=skill, actor=request.user)
    return _back(access, project, "skills")


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def file_detail(request, access, project_slug, file_id):
    """One file: its status and its text page by page (anchors `#page-N`), and citations."""
    project = project_get_by_slug(access, project_slug)
    file = ProjectFile.objects.filter(project=project, pk=file_id).first()
    if file is None:
        raise NotFound("File not found.")
    chunks = list(Chunk.objects.filter(file=file).order_by("ordinal")[:500])
    # every page gets its anchor, even one whose text continues a chunk begun earlier
    last = max([file.page_count] + [c.page_end or 1 for c in chunks]) if chunks else 0
    pages: dict[int, list[Chunk]] = {n: [] for n in range(1, last + 1)}
    for chunk in chunks:
        pages[chunk.page_start or 1].append(chunk)
    citations = list(Citation.objects.filter(file=file).order_by("created_at")[:200])
    return render(
        request,
        "vectors/file.html",
        page_context(
            request,
            access,
            nav="overview",
            project=project,
            file=file,
            pages=sorted(pages.items()),
            citations=citations,
        ),
    )


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def search_page(request, access, project_slug):
    """Type a query, open each hit at its page in the file; the recall audit beside it."""
    project = project_get_by_slug(access, project_slug)
    repo_indexes = repos.repo_index_list(project=project)
    form = SearchForm(request.GET or None, repos=repo_indexes)
    results = None
    if form.is_valid() and form.cleaned_data["q"].strip():
        kind, _, repo_id = (form.cleaned_data["ns"] or "chunks").partition(":")
        try:
            results = services.search(
                project=project,
                query=form.cleaned_data["q"],
                mode=form.cleaned_data["mode"] or "hybrid",
                namespace=kind,
                repo=repo_id or None,
                k=20,
            )
        except ServiceError as exc:
            form_error(form, exc)
    return render(
        request,
        "vectors/search.html",
        page_context(
            request,
            access,
            nav="overview",
            project=project,
            form=form,
            results=results,
            audits=services.latest_recall(project=project),
            repo_indexes=repo_indexes,
        ),
    )
