"""The project page's repository section: stats (server-rendered SVG of word-count history,
streaks), the sync state and a settings form that commits `config.yml`.

The project page only embeds a placeholder that htmx fills from `…/repo-sync/`, so the page's
own queries do not grow with this section."""

from django import forms
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from accounts.models import Role
from common.exceptions import ServiceError
from workspaces.pages import form_error, workspace_page
from workspaces.views import project_get_by_slug

from .services import repo_sync
from .sync_models import RepoSyncState

SVG_W, SVG_H, PAD = 600, 160, 24


class ProjectSettingsForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, label="Project name")
    genre = forms.CharField(max_length=100, required=False)
    target_word_count = forms.IntegerField(min_value=0, required=False, label="Target words")
    stats_enabled = forms.BooleanField(
        required=False, label="The repository's GitHub Action writes stats.json"
    )

    @staticmethod
    def initial_from(settings: dict) -> dict:
        project = settings.get("project") or {}
        return {
            "name": project.get("name", ""),
            "genre": project.get("genre", ""),
            "target_word_count": project.get("target_word_count"),
            "stats_enabled": bool((settings.get("github_actions") or {}).get("stats_enabled")),
        }

    def changes(self) -> dict:
        out: dict = {}
        for field in self.changed_data:
            value = self.cleaned_data[field]
            if field == "stats_enabled":
                out.setdefault("github_actions", {})["stats_enabled"] = value
            else:
                out.setdefault("project", {})[field] = value if value not in ("",) else None
        return out


def history_chart(stats: dict | None) -> dict:
    """Points of the word-count history (oldest first) scaled into the SVG box."""
    history = list(reversed((stats or {}).get("history") or []))
    if not history:
        return {"points": "", "days": 0}
    top = max(h["word_count"] for h in history) or 1
    span = max(1, len(history) - 1)
    points = " ".join(
        f"{PAD + (SVG_W - 2 * PAD) * i / span:.1f},"
        f"{SVG_H - PAD - (SVG_H - 2 * PAD) * h['word_count'] / top:.1f}"
        for i, h in enumerate(history)
    )
    return {
        "points": points,
        "days": len(history),
        "top": top,
        "first": history[0]["date"],
        "last": history[-1]["date"],
        "width": SVG_W,
        "height": SVG_H,
    }


def repo_sync_panel(request, access, *, project, **page) -> dict:
    return {"url": f"/w/{access.workspace.slug}/p/{project.slug}/repo-sync/"}  # no queries


def _section(request, access, project, *, form=None, result=None, status=200):
    state = (
        RepoSyncState.objects.filter(repo__project=project)
        .select_related("repo")
        .order_by("repo__created_at")
        .first()
    )
    settings = state.settings if state else {}
    form = form or ProjectSettingsForm(initial=ProjectSettingsForm.initial_from(settings))
    context = {
        "project": project,
        "workspace": access.workspace,
        "state": state,
        "stats": state.stats if state else None,
        "chart": history_chart(state.stats if state else None),
        "form": form,
        "result": result,
        "can_write": access.can_write,
    }
    return render(request, "deployments/_repo_sync_section.html", context, status=status)


@workspace_page()
@require_safe
def repo_sync_section(request, access, project_slug):
    project = project_get_by_slug(access, project_slug)
    return _section(request, access, project)


@workspace_page(write=Role.MEMBER)
@require_POST
def repo_settings_submit(request, access, project_slug):
    project = project_get_by_slug(access, project_slug)
    state = RepoSyncState.objects.filter(repo__project=project).first()
    initial = ProjectSettingsForm.initial_from(state.settings if state else {})
    form = ProjectSettingsForm(request.POST, initial=initial)
    if not form.is_valid():
        return _section(request, access, project, form=form, status=400)
    changes = form.changes()
    if not changes:
        return _section(request, access, project, result={"unchanged": True})
    try:
        result = repo_sync.settings_update(project=project, changes=changes, actor=request.user)
    except ServiceError as exc:
        form_error(form, exc)
        return _section(request, access, project, form=form, status=400)
    return _section(request, access, project, result=result)
