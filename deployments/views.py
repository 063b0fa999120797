"""`/p/{slug}/`: serves a preview's active version to whoever its visibility allows."""

import json

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import BearerTokenAuthentication
from common.exceptions import NotFound

from . import selectors
from .models import PreviewVisibility

# A served page runs in an opaque origin: it cannot read Holdfast's cookies or call its API
# as the visitor, whatever HTML the preview holds.
PAGE_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals; frame-ancestors 'self'"


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
