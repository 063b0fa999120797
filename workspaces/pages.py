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

import hashlib
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404

from accounts.models import Role, role_at_least
from common import panels
from common.exceptions import Forbidden, NotFound, ServiceError

from .selectors import WorkspaceAccess, workspace_access

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


# --- rendered-item cache ------------------------------------------------------------------

ITEM_CACHE_SECONDS = 3600


def render_items(
    template_name: str, items, *, version, context: dict, name: str = "item", cached: bool = True
) -> list:
    """Each item of a list rendered by `template_name`, from the cache where it can be.

    Collection caching (as in Rails' "Russian doll" caching): the per-item HTML is cached
    under a key made of `version(item)` — everything the fragment shows that can change
    (the item's own version, its author's name, the viewer's rights) — so a changed item
    or viewer gets a new key and a stale fragment is never served; old keys simply
    expire. One `get_many` and one `set_many` per page. The fragment must not hold a
    per-request value (a CSRF token): action buttons point at the page's one token form.
    `context` holds what the template reads besides the item, which it finds as `name`.
    `cached=False` renders every item afresh (a page re-shown with a bound form's errors).
    """
    from django.core.cache import cache
    from django.template import Context, engines
    from django.utils import timezone
    from django.utils.safestring import mark_safe

    items = list(items)
    if not items:
        return []
    zone = timezone.get_current_timezone_name()
    keys = [
        "item:" + hashlib.blake2b(f"{template_name}|{zone}|{version(item)}".encode()).hexdigest()
        for item in items
    ]
    hits = cache.get_many(keys) if cached else {}
    # The engine's own Template: rendered with a plain Context, no context processors.
    template = engines["django"].engine.get_template(template_name)  # type: ignore[attr-defined]
    out, misses = [], {}
    with_context = Context(context, autoescape=True)
    for key, item in zip(keys, items, strict=True):
        html = hits.get(key)
        if html is None:
            with with_context.push({name: item}):
                html = misses[key] = str(template.render(with_context))
        out.append(mark_safe(html))  # noqa: S308 - rendered by an autoescaping template
    if misses and cached:
        cache.set_many(misses, ITEM_CACHE_SECONDS)
    return out
