"""The one JSON parser of the API: a size cap (JSON 413), a nesting-depth limit and a
check that every string and key is storable (no NUL, no lone surrogates), all before any
view sees the data — so a refused body never half-writes anything.

Set as the only JSON parser in REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]; serializers'
JSONFields that arrive through other parsers (multipart forms) are checked with
`check_storable` too (see `StorableJSONField`).
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32
# Lone surrogates cannot be encoded as UTF-8 (PostgreSQL refuses them; SQLite stores rows
# that later fail to decode); NUL is refused by PostgreSQL text and jsonb.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def body_limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440


def check_storable(value, *, max_depth: int = MAX_DEPTH) -> str | None:
    """None when `value` (parsed JSON) is storable, else why not. Iterative: no recursion."""
    problem = find_unstorable(value, max_depth=max_depth)
    return problem[1] if problem else None


def find_unstorable(value, *, max_depth: int = MAX_DEPTH) -> tuple[str | None, str] | None:
    """None when storable, else (the top-level field it is under or None, why not)."""
    stack: list[tuple[object, int, str | None]] = [(value, 1, None)]
    while stack:
        item, depth, top = stack.pop()
        if depth > max_depth:
            return top, f"JSON is nested deeper than {max_depth} levels."
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return top, "Text may not contain NUL characters or unpaired surrogates."
        elif isinstance(item, dict):
            for key, child in item.items():
                field = key if depth == 1 and isinstance(key, str) else top
                if isinstance(key, str) and UNSTORABLE.search(key):
                    return (top if depth > 1 else None), (
                        "Keys may not contain NUL characters or unpaired surrogates."
                    )
                stack.append((child, depth + 1, field))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, top) for child in item)
    return None


def error_body(field: str | None, message: str):
    """The 400 body: field errors when the bad value sits under a top-level field."""
    if field:
        return {field: [message]}
    return {"detail": message, "code": "parse_error"}


def parse_json_body(raw: bytes, encoding: str = "utf-8"):
    """(data, None) for a storable JSON document, (None, error body) otherwise."""
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None, error_body(None, f"The request body is not valid {encoding}.")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        return None, error_body(None, f"JSON is nested deeper than {MAX_DEPTH} levels.")
    except ValueError as exc:
        return None, error_body(None, f"JSON parse error - {exc}")
    problem = find_unstorable(data)
    return (None, error_body(*problem)) if problem else (data, None)


class StrictJSONParser(JSONParser):
    """DRF's JSON parser plus the size, depth and storability checks."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = body_limit()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        data, problem = parse_json_body(raw, encoding)
        if problem:
            raise exceptions.ParseError(problem)
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
