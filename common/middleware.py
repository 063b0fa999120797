"""Request-body guard, before any view or other middleware reads the body:

- a body over DATA_UPLOAD_MAX_MEMORY_SIZE (file uploads aside) is answered 413 — JSON
  under /api/, plain text elsewhere — rather than Django's HTML 400 from whichever layer
  happens to read the body first;
- a JSON body sent to /api/ is parsed with the API's one parser (`common.parsers`) even
  when the view would ignore it, so a NUL, a lone surrogate or a 10,000-deep nesting is a
  JSON 400 on every route and reaches no handler.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse

from .parsers import body_limit, parse_json_body


class RequestBodyGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        content_type = request.META.get("CONTENT_TYPE", "")
        api = request.path.startswith("/api/")
        if not content_type.startswith("multipart/form-data"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = body_limit()
            if length > limit:
                message = f"The request body is larger than {limit} bytes."
                if api:
                    return JsonResponse(
                        {"detail": message, "code": "payload_too_large"}, status=413
                    )
                return HttpResponse(message, status=413, content_type="text/plain")
            if api and length and "json" in content_type.split(";", 1)[0]:
                problem = parse_json_body(request.body, _charset(content_type))[1]
                if problem:
                    return JsonResponse(problem, status=400)
        return self.get_response(request)


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"
