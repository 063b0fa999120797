"""Shipping-pipeline pages: `/p/{slug}/` (a preview's active version, for whoever its
visibility allows), the approvals inbox, preview rollback, artifact download, and the
project page's previews, deployments, runs and artifacts sections (panels).
"""

import json

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import BearerTokenAuthentication
from accounts.models import Role
from common import panels
from common.exceptions import NotFound, ServiceError
from workspaces.pages import form_error, page_context, paginate, workspace_page
from workspaces.views import project_get_by_slug, project_response

from . import selectors, services
from .forms import DecisionForm, PreviewForm, PreviewVersionForm, RollbackForm, RunForm
from .models import ApprovalStatus, PreviewVisibility

# A served page runs in an opaque origin: it cannot read Holdfast's cookies or call its API
# as the visitor, whatever HTML the preview holds.
PAGE_CSP = (
    "sandbox allow-scripts allow-popups allow-modals; default-src 'self' data: blob: "
    "'unsafe-inline'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)


def _viewer(request):
    if request.user.is_authenticated:
        return request.user
    try:
        result = BearerTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return request.user
    return result[0] if result else request.user


@require_safe
def preview_serve(request, slug: str):
    try:
        preview, version = selectors.preview_for_viewer(slug=slug, user=_viewer(request))
        data = selectors.read_blob(version.blob_path, sha256=version.sha256)
    except NotFound:
        raise Http404("Preview not found.")
    content = json.loads(data)
    if isinstance(content, dict) and isinstance(content.get("html"), str):
        response = HttpResponse(content["html"], content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = PAGE_CSP
    else:
        response = HttpResponse(data, content_type="application/json")
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Preview-Version"] = str(version.version)
    response["ETag"] = f'"{version.sha256}"'
    public = preview.visibility == PreviewVisibility.PUBLIC
    response["Cache-Control"] = (
        "public, max-age=0, must-revalidate" if public else "private, no-store"
    )
    return response


# --- approvals inbox --------------------------------------------------------------------


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def approvals(request, access):
    status = request.GET.get("status") or None
    if status not in ApprovalStatus.values:
        status = None
    page = paginate(request, selectors.approval_inbox(workspace=access.workspace, status=status))
    for approval in page:
        approval.can_decide = (
            access.is_admin
            and approval.status == ApprovalStatus.PENDING
            and approval.requested_by_id != request.user.pk
        )
    return render(
        request,
        "deployments/approvals.html",
        page_context(
            request,
            access,
            nav="approvals",
            page_obj=page,
            status=status,
            statuses=ApprovalStatus.choices,
        ),
    )


def _decide(request, access, approval_id, *, approve: bool):
    approval = selectors.approval_get(workspace=access.workspace, approval_id=approval_id)
    form = DecisionForm(request.POST)
    error = ""
    if form.is_valid():
        decide = services.approval_approve if approve else services.approval_reject
        try:
            approval = decide(approval=approval, actor=request.user, note=form.cleaned_data["note"])
        except ServiceError as exc:
            error = exc.message
    else:
        error = "; ".join(e for errors in form.errors.values() for e in errors)
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(f"/w/{access.workspace.slug}/approvals/")
    approval = selectors.approval_get(workspace=access.workspace, approval_id=approval.pk)
    approval.can_decide = False if not error else access.is_admin
    return render(
        request,
        "deployments/_approval_row.html",
        page_context(request, access, a=approval, error=error),
    )


@workspace_page(write=Role.ADMIN)
@require_POST
def approval_approve(request, access, approval_id):
    return _decide(request, access, approval_id, approve=True)


@workspace_page(write=Role.ADMIN)
@require_POST
def approval_reject(request, access, approval_id):
    return _decide(request, access, approval_id, approve=False)


# --- previews and artifacts ---------------------------------------------------------------


@workspace_page(write=Role.ADMIN)
@require_POST
def preview_rollback(request, access, project_slug, preview_id):
    project = project_get_by_slug(access, project_slug)
    preview = selectors.preview_get(project=project, preview_id=preview_id)
    form = RollbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a version to roll back to.")
    else:
        try:
            services.preview_rollback(
                preview=preview, version=form.cleaned_data["version"], actor=request.user
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"Preview {preview.slug} now serves v{form.cleaned_data['version']}."
            )
    return redirect(f"/w/{access.workspace.slug}/p/{project.slug}/?tab=previews#previews")


def _project_form_post(request, access, project_slug, form, tab, key, create):
    """Validate `form`, call `create(project, data)`; back to the tab, or re-show the form."""
    project = project_get_by_slug(access, project_slug)
    if form.is_valid():
        try:
            message = create(project, form.cleaned_data)
        except ServiceError as exc:
            form_error(form, exc)
        else:
            messages.success(request, message)
            return redirect(f"/w/{access.workspace.slug}/p/{project.slug}/?tab={tab}#{tab}")
    return project_response(request, access, project, forms={key: form}, tab=tab)


@workspace_page()
@require_POST
def run_create(request, access, project_slug):
    def create(project, data):
        run, _ = services.run_create(project=project, kind=data["kind"], actor=request.user)
        return f"Run {run.kind} queued."

    return _project_form_post(
        request, access, project_slug, RunForm(request.POST), "runs", "run", create
    )


@workspace_page()
@require_POST
def preview_create(request, access, project_slug):
    def create(project, data):
        preview = services.preview_create(
            project=project, slug=data["slug"], visibility=data["visibility"], actor=request.user
        )
        return f"Preview {preview.slug} created: publish its first version."

    return _project_form_post(
        request, access, project_slug, PreviewForm(request.POST), "previews", "preview", create
    )


@workspace_page()
@require_POST
def preview_version_create(request, access, project_slug, preview_id):
    def create(project, data):
        preview = selectors.preview_get(project=project, preview_id=preview_id)
        version = services.preview_version_create(
            preview=preview, content=data["content"], actor=request.user
        )
        return f"Preview {preview.slug} now serves v{version.version}."

    form = PreviewVersionForm(request.POST)
    key = f"version-{preview_id}"
    return _project_form_post(request, access, project_slug, form, "previews", key, create)


@workspace_page()
@require_safe
def artifact_download(request, access, project_slug, artifact_id):
    project = project_get_by_slug(access, project_slug)
    artifact = selectors.artifact_get(project=project, artifact_id=artifact_id)
    try:
        selectors.read_blob(artifact.blob_path, sha256=artifact.sha256)  # refuses a corrupt blob
    except ServiceError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
    response = FileResponse(
        default_storage.open(artifact.blob_path, "rb"), content_type=artifact.content_type
    )
    response["Content-Disposition"] = f'attachment; filename="{artifact.kind}-v{artifact.version}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@workspace_page()
@require_safe
def artifact_detail(request, access, project_slug, artifact_id):
    """One artifact version: download, every version of its key, and what apps above add
    through the "artifact" panels slot (vectors: the citations it rests on)."""
    project = project_get_by_slug(access, project_slug)
    artifact = selectors.artifact_get(project=project, artifact_id=artifact_id)
    versions = list(
        selectors.artifact_list(
            project=project, kind=artifact.kind, logical_key=artifact.logical_key
        )[:50]
    )
    return render(
        request,
        "deployments/artifact.html",
        page_context(
            request,
            access,
            nav="overview",
            project=project,
            artifact=artifact,
            versions=versions,
            artifact_panels=panels.render_slot(
                "artifact", request, access, project=project, artifact=artifact
            ),
        ),
    )


# --- the project page's sections (registered as panels in apps.ready) ------------------------


def previews_panel(request, access, *, project, forms=None, **page) -> dict:
    forms = forms or {}
    previews = paginate(
        request, selectors.previews_with_versions(project=project), param="previews_page"
    )
    for preview in previews:
        preview.version_form = forms.get(f"version-{preview.pk}") or PreviewVersionForm()
    return {
        "project": project,
        "previews": previews,
        "form": forms.get("preview") or PreviewForm(),
    }


def deployments_panel(request, access, *, project, **page) -> dict:
    deployments = paginate(
        request, selectors.deployment_list(project=project), param="deployments_page"
    )
    timelines = selectors.deployment_timelines(list(deployments))
    for deployment in deployments:
        deployment.timeline = timelines.get(deployment.pk, [])
    return {"project": project, "deployments": deployments}


def runs_panel(request, access, *, project, forms=None, **page) -> dict:
    return {
        "project": project,
        "runs": paginate(request, selectors.runs_with_steps(project=project), param="runs_page"),
        "form": (forms or {}).get("run") or RunForm(),
    }


def artifacts_panel(request, access, *, project, **page) -> dict:
    return {
        "project": project,
        "artifacts": paginate(
            request, selectors.artifact_latest(project=project), param="artifacts_page"
        ),
    }
