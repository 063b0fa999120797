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
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return f"JSON is nested deeper than {max_depth} levels."
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return "Text may not contain NUL characters or unpaired surrogates."
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and UNSTORABLE.search(key):
                    return "Keys may not contain NUL characters or unpaired surrogates."
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return None


def parse_json_body(raw: bytes, encoding: str = "utf-8"):
    """(data, None) for a storable JSON document, (None, why not) otherwise."""
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None, f"The request body is not valid {encoding}."
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        return None, f"JSON is nested deeper than {MAX_DEPTH} levels."
    except ValueError as exc:
        return None, f"JSON parse error - {exc}"
    problem = check_storable(data)
    return (None, problem) if problem else (data, None)


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
