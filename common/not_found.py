"""A JSON 404 for API paths no route matches (a malformed id in the path, say), so an API
client gets the documented `Error` body instead of Django's HTML page."""

from django.http import JsonResponse


def api_not_found(request, *args, **kwargs):
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
