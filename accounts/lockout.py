"""Login rate limiting with django-axes: who an attempt counts against, and the lockout reply.

Attempts count per account and per client address (`AXES_LOCKOUT_PARAMETERS`). An
account is named by its email or its handle, so both spellings must count as one:
`login_identity` maps either to the account's email before axes counts it.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .selectors import user_for_login

LOCKOUT_MESSAGE = "Too many failed sign-in attempts. Try again in {minutes} minutes."


def login_identity(request: HttpRequest, credentials: dict | None = None) -> str:
    """The account an attempt is against: its email when the email or handle names a user,
    else the typed identifier, lowercased (so unknown names are limited too)."""
    credentials = credentials or {}
    identifier = credentials.get("username") or credentials.get("email")
    if identifier is None and request is not None:
        data = getattr(request, "data", None) or request.POST
        identifier = data.get("username") or data.get("email")
    identifier = str(identifier or "").strip()
    user = user_for_login(identifier=identifier) if identifier else None
    return user.email if user is not None else identifier.lower()


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """429 for a locked-out login: JSON for the API, a plain page for the browser."""
    minutes = settings.AXES_COOLOFF_MINUTES
    message = LOCKOUT_MESSAGE.format(minutes=minutes)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    else:
        response = render(
            request,
            "accounts/locked_out.html",
            {"message": message, "minutes": minutes},
            status=429,
        )
    response["Retry-After"] = str(minutes * 60)
    return response
