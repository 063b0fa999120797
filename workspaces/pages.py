"""The one page helper every `/w/<slug>/…` page uses, in every app.

`workspace_page(read=…, write=…)` resolves the workspace through
`workspaces.selectors.workspace_access` before the view runs: signed out → redirect to
settings.LOGIN_URL, a stranger (or a missing workspace) → 404, a role below `read` on a
GET or below `write` on a POST → 403. The view receives the `WorkspaceAccess` as its
second argument. Service errors the view does not catch become 404/403 the same way.

`page_context()` adds what the base layout needs (the workspace, the role, the header
panels); `paginate()` is the one Paginator call; `form_error()` puts a ServiceError onto
the form field it names, so the page shows it in place and keeps what was typed.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.functional import SimpleLazyObject

from accounts.models import Role, role_at_least
from common import panels
from common.exceptions import Forbidden, NotFound, ServiceError

from .selectors import WorkspaceAccess, workspace_access, workspace_list_for_user

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PAGE_SIZE = 25


def workspace_page(read: str = Role.VIEWER, write: str = Role.MEMBER):
    """Decorate `view(request, access, **kwargs)` mounted under `w/<slug:slug>/`."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, slug, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            try:
                access = workspace_access(user=request.user, slug=slug)
            except NotFound:
                raise Http404("Workspace not found.")
            needed = read if request.method in SAFE_METHODS else write
            if not role_at_least(access.role, needed):
                raise PermissionDenied(f"This needs the {Role(needed).label.lower()} role.")
            request.access = access
            try:
                return view(request, access, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message)
            except Forbidden as exc:
                raise PermissionDenied(exc.message)

        return wrapper

    return decorator


def page_context(request, access: WorkspaceAccess, **context) -> dict:
    """The base layout's context for a workspace page, plus the page's own."""
    return {
        "access": access,
        "workspace": access.workspace,
        "header_panels": panels.render_slot("header", request, access),
        **context,
    }


def paginate(request, queryset, *, param: str = "page", per_page: int = PAGE_SIZE):
    """One page of `queryset` (Django's Paginator; a bad page number gives the last/first)."""
    return Paginator(queryset, per_page).get_page(request.GET.get(param))


def form_error(form, exc: ServiceError):
    """Show a service's refusal on the form: on its field when the form has it.

    "Not yours" and "not found" are not input errors: they propagate (403/404).
    """
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)
    return form


def navigation(request) -> dict:
    """Context processor: the signed-in user's workspaces for the header's switcher (lazy)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_workspaces": ()}
    return {"nav_workspaces": SimpleLazyObject(lambda: list(workspace_list_for_user(user=user)))}
