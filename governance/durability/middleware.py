"""Refuse writes while the database was written by newer code than this one."""

from django.http import JsonResponse

from common.exceptions import Conflict
from governance.durability.services import check_schema_version

SAFE = {"GET", "HEAD", "OPTIONS", "TRACE"}


class SchemaVersionGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in SAFE:
            try:
                check_schema_version()
            except Conflict as exc:
                return JsonResponse({"code": "schema_version", "detail": str(exc)}, status=409)
        return self.get_response(request)
