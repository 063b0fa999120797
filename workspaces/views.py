"""Workspace pages: home, workspace overview, project page, history, settings.

Each view parses input, calls one selector or service, and renders. The overview and
project pages also render the panels that higher apps registered through `common.panels`.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import InvitationStatus, Membership, Role
from common import panels
from common.exceptions import NotFound, ServiceError
from governance import selectors as governance_selectors

from . import selectors, services
from .forms import InvitationForm, ProjectForm, RoleForm, TokenForm
from .models import Project
from .pages import form_error, page_context, paginate, workspace_page


def home(request):
    """Signed in: your workspaces. Signed out: the landing page."""
    if not request.user.is_authenticated:
        return render(
            request,
            "home.html",
            {"version": settings.APP_VERSION, "login_url": settings.LOGIN_URL},
        )
    page = paginate(request, selectors.workspace_list_for_user(user=request.user))
    return render(request, "workspaces/home.html", {"page_obj": page})


@login_required
@require_http_methods(["GET", "HEAD"])
def workspace_switcher(request):
    """The header switcher's list: the signed-in user's workspaces (fetched on first open)."""
    workspaces = selectors.workspace_list_for_user(user=request.user)[:50]
    return render(request, "workspaces/_switcher.html", {"workspaces": workspaces})


def project_get_by_slug(access, project_slug: str) -> Project:
    project = selectors.project_list(workspace=access.workspace).filter(slug=project_slug).first()
    if project is None:
        raise NotFound("Project not found.")
    return project


# --- the workspace overview -------------------------------------------------------------


def _workspace_response(request, access, *, project_form=None, status=200):
    workspace = access.workspace
    return render(
        request,
        "workspaces/workspace.html",
        page_context(
            request,
            access,
            nav="overview",
            page_obj=paginate(request, selectors.project_list(workspace=workspace)),
            project_form=project_form or ProjectForm(),
            workspace_panels=panels.render_slot("workspace", request, access),
        ),
        status=status,
    )


@workspace_page()
@require_http_methods(["GET", "HEAD", "POST"])
def workspace_detail(request, access):
    if request.method != "POST":
        return _workspace_response(request, access)
    form = ProjectForm(request.POST)
    if form.is_valid():
        try:
            project = services.project_create(
                workspace=access.workspace, actor=request.user, **form.cleaned_data
            )
        except ServiceError as exc:
            form_error(form, exc)
        else:
            return redirect(f"/w/{access.workspace.slug}/p/{project.slug}/")
    return _workspace_response(request, access, project_form=form)


def activity_panel(request, access, **page) -> dict:
    """The overview's "Recent activity": the workspace's last ten audit events."""
    events = governance_selectors.workspace_audit_events(workspace=access.workspace)
    return {"activity": list(events[:10])}


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def workspace_panel(request, access, name):
    """One lazy section of the overview, fetched by its placeholder once the page loads."""
    panel = {p.name: p for p in panels.panels("workspace")}.get(name)
    if panel is None:
        raise Http404("No such section.")
    context = {"data": panel.provider(request, access), "access": access}
    return render(request, panel.template, {**context, "workspace": access.workspace})


# --- the project page -------------------------------------------------------------------


def project_response(request, access, project, *, forms=None, tab=None):
    """The project page with one section (tab) rendered: `?tab=<panel name>`, comments first.

    Only the shown section's provider runs, so the page costs what its section costs; the
    tab links swap the section in place with htmx (and are plain links without it). `forms`
    are bound forms with errors that a failed POST re-shows (in the tab they belong to).
    """
    tabs = panels.panels("project")
    names = [p.name for p in tabs]
    tab = tab or request.GET.get("tab") or names[0]
    if tab not in names:
        raise Http404("No such section.")
    active = panels.render_panel(
        "project", tab, request, access, project=project, forms=forms or {}
    )
    context = {"project": project, "project_tabs": tabs, "active_panel": active}
    if request.htmx and request.method == "GET":  # a tab link: the tabs and section only
        context.update(access=access, workspace=access.workspace)
        return render(request, "workspaces/project.html#tabs", context)
    return render(
        request, "workspaces/project.html", page_context(request, access, nav="overview", **context)
    )


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def project_detail(request, access, project_slug):
    return project_response(request, access, project_get_by_slug(access, project_slug))


# --- history ----------------------------------------------------------------------------


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def history(request, access):
    page = paginate(request, governance_selectors.workspace_history(workspace=access.workspace))
    entries = governance_selectors.history_entries(list(page.object_list))
    return render(
        request,
        "workspaces/history.html",
        page_context(request, access, nav="history", page_obj=page, entries=entries),
    )


# --- settings: members and roles, API tokens --------------------------------------------


def _settings_response(
    request, access, *, token_form=None, new_token=None, role_errors=None, invite_form=None
):
    team = access.workspace.team
    return render(
        request,
        "workspaces/settings.html",
        page_context(
            request,
            access,
            nav="settings",
            team=team,
            settings_panels=panels.render_slot("settings", request, access),
            members=paginate(request, account_selectors.team_members(team=team)),
            roles=Role.choices,
            tokens=account_selectors.token_list(user=request.user),
            token_form=token_form or TokenForm(),
            new_token=new_token,
            role_errors=role_errors or {},
            invitations=(
                list(
                    account_selectors.invitation_list(team=team).filter(
                        status=InvitationStatus.PENDING
                    )[:50]
                )
                if access.is_admin
                else []
            ),
            invite_form=invite_form or InvitationForm(),
        ),
    )


@workspace_page()
@require_http_methods(["GET", "HEAD"])
def settings_page(request, access):
    return _settings_response(request, access)


def _membership(access, membership_id) -> Membership:
    membership = (
        Membership.objects.filter(team_id=access.workspace.team_id, pk=membership_id)
        .select_related("team", "user")
        .first()
    )
    if membership is None:
        raise NotFound("Member not found.")
    return membership


@workspace_page(write=Role.ADMIN)
@require_POST
def member_role(request, access, membership_id):
    membership = _membership(access, membership_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            account_services.membership_change_role(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
            )
        except ServiceError as exc:
            return _settings_response(request, access, role_errors={membership.pk: exc.message})
        messages.success(request, f"@{membership.user.handle} is now {membership.role}.")
        return redirect(f"/w/{access.workspace.slug}/settings/")
    return _settings_response(
        request, access, role_errors={membership.pk: "Choose one of the roles."}
    )


@workspace_page(write=Role.ADMIN)
@require_POST
def member_remove(request, access, membership_id):
    membership = _membership(access, membership_id)
    try:
        account_services.membership_remove(membership=membership, actor=request.user)
    except ServiceError as exc:
        return _settings_response(request, access, role_errors={membership.pk: exc.message})
    messages.success(request, f"@{membership.user.handle} was removed from the team.")
    return redirect(f"/w/{access.workspace.slug}/settings/")


@workspace_page(write=Role.ADMIN)
@require_POST
def invitation_create(request, access):
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            account_services.invitation_create(
                team=access.workspace.team,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
            )
        except ServiceError as exc:
            form_error(form, exc)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect(f"/w/{access.workspace.slug}/settings/#invitations")
    return _settings_response(request, access, invite_form=form)


@workspace_page(write=Role.ADMIN)
@require_POST
def invitation_revoke(request, access, invitation_id):
    team = access.workspace.team
    invitation = account_selectors.invitation_list(team=team).filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("No such invitation.")
    account_services.invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, f"The invitation to {invitation.email} was revoked.")
    return redirect(f"/w/{access.workspace.slug}/settings/#invitations")


# A token belongs to the signed-in user, not to the workspace: viewers manage their own.
@workspace_page(write=Role.VIEWER)
@require_POST
def token_create(request, access):
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _settings_response(request, access, token_form=form)
    token, raw = account_services.token_create(user=request.user, name=form.cleaned_data["name"])
    return _settings_response(request, access, new_token={"token": token, "raw": raw})


@workspace_page(write=Role.VIEWER)
@require_POST
def token_revoke(request, access, token_id):
    token = account_selectors.token_list(user=request.user).filter(pk=token_id).first()
    if token is None:
        raise NotFound("No such token.")
    account_services.token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token {token.name} was revoked.")
    return redirect(f"/w/{access.workspace.slug}/settings/")
