"""JSON answers for API requests Django itself refuses before any DRF view runs: a path no
route matches (a malformed id in the path, say) and a CSRF failure, so an API client always
gets the documented `Error` body instead of Django's HTML page.

The API's own views are DRF views, which are CSRF-exempt at Django's level (DRF enforces
CSRF itself, and only for session-authenticated requests); the catch-all 404 view must be
exempt too, or an unsafe request to an unmatched path would get Django's HTML 403.
"""

from django.http import JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def csrf_failure(request, reason="", template_name="403_csrf.html"):
    """settings.CSRF_FAILURE_VIEW: JSON under /api/, Django's page everywhere else."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": f"CSRF check failed: {reason}", "code": "csrf_failed"}, status=403
        )
    return django_csrf_failure(request, reason=reason, template_name=template_name)
