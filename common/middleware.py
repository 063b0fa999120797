"""Request-size guard: a body over DATA_UPLOAD_MAX_MEMORY_SIZE (file uploads aside) is
answered 413 before anything reads it — JSON under /api/, plain text elsewhere — rather
than Django's HTML 400 from whichever layer happens to read the body first."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse

from .parsers import body_limit


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        content_type = request.META.get("CONTENT_TYPE", "")
        if not content_type.startswith("multipart/form-data"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = body_limit()
            if length > limit:
                message = f"The request body is larger than {limit} bytes."
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": message, "code": "payload_too_large"}, status=413
                    )
                return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)
