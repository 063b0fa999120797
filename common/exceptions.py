"""Domain errors and their mapping to HTTP responses.

Services raise these; the API exception handler turns them into 400/402/403/404/409
with a plain message, so a bad request is never a 500.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response


class ServiceError(Exception):
    """Base for errors raised by services; `status_code` decides the HTTP status."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code

    def as_response_data(self) -> dict:
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message, "code": self.code}


class ValidationFailed(ServiceError):
    pass


class NotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"


class Forbidden(ServiceError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "permission_denied"


class Conflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PaymentRequired(ServiceError):
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_code = "limit_reached"


def exception_handler(exc, context):
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, ServiceError):
        return Response(exc.as_response_data(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            data = exc.message_dict
        else:
            data = {"detail": exc.messages}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)
