"""Schema-version guard: refuse writes the code must not make, and say why.

When the database's app schema version is newer than this code's, every write is
refused with 409 (the API gets JSON `{"code": "schema_version", "detail": ...}`, the
admin and other pages a plain page with the same sentence). In production a database
at version 0 is not served at all (503).
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape

from durability import versions

SAFE = {"GET", "HEAD", "OPTIONS", "TRACE"}


class SchemaVersionGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE and settings.DJANGO_ENV != "production":
            return self.get_response(request)  # reads are refused only for version 0 in prod
        reason = versions.refusal_reason()
        if reason is not None:
            status, message = reason
            if status == 503 or request.method not in SAFE:
                return self._refuse(request, status, message)
        return self.get_response(request)

    @staticmethod
    def _refuse(request, status: int, message: str):
        if request.path.startswith("/api/"):
            return JsonResponse({"code": "schema_version", "detail": message}, status=status)
        body = (
            "<!doctype html><title>Writes refused</title><h1>Writes refused</h1>"
            f"<p>{escape(message)}</p>"
        )
        return HttpResponse(body, status=status)
