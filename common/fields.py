"""Serializer fields shared by the API."""

from __future__ import annotations

import base64
import binascii
import uuid
from decimal import Decimal

from django.core.validators import RegexValidator, URLValidator
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.BYTE)
class Base64Field(serializers.CharField):
    """Bytes sent as base64 text (RFC 4648, padded): decoded here, so a malformed value is
    a 400 on this field before a view sees it."""

    default_error_messages = {"invalid_base64": "This is not valid base64."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> bytes:  # type: ignore[override]
        text = super().to_internal_value(data)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self.fail("invalid_base64")


@extend_schema_field(
    {"anyOf": [{"type": t} for t in ("object", "array", "string", "number", "boolean")]}
)
class JSONValueField(serializers.JSONField):
    """Any JSON value but null (the schema says so; DRF's JSONField refuses null unless
    allow_null)."""


class NonEmptyDictField(serializers.DictField):
    """An object of strings with at least one key."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(allow_blank=True))
        super().__init__(allow_empty=False, **kwargs)


extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1}
)(NonEmptyDictField)


# An http(s) URL as the schema states it: a host of one to three labels and a letter TLD, an
# optional port, path, query and fragment of URI characters. Every string this matches also
# passes Django's URLValidator (the model's own check), so what the schema admits is stored.
_URI_CHARS = r"A-Za-z0-9._~!$&'()*+,;=:@/"  # "-" is added last in each class
WEB_URL_PATTERN = (
    r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,3}[A-Za-z]{2,24}"
    rf"(?::[0-9]{{1,5}})?(?:/[{_URI_CHARS}-]*)?(?:\?[{_URI_CHARS}?-]*)?(?:#[{_URI_CHARS}?-]*)?$"
)


class _WebUrlValidator(RegexValidator):
    regex = WEB_URL_PATTERN
    message = "Enter an http or https URL such as https://example.com/path."

    def __call__(self, value):
        super().__call__(value)
        if value:
            URLValidator(schemes=["http", "https"], message=self.message)(value)


class WebUrlField(serializers.URLField):
    """An http(s) link such as a repository's page: `WEB_URL_PATTERN` (which the schema
    carries as its pattern) and Django's URL check, with one error message."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, URLValidator)]
        self.validators.append(_WebUrlValidator())


class LabelChoiceField(serializers.ChoiceField):
    """One of a list of model labels known only once apps are loaded (`labels()` is called
    per serializer instance, so the schema lists them as an enum); matched without regard
    to case and returned as spelled in the list."""

    def __init__(self, labels, **kwargs):
        self._labels = labels
        super().__init__(choices=[], **kwargs)

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        labels = list(self._labels())
        self.choices = labels
        self.error_messages["invalid_choice"] = f"Unknown model; one of: {', '.join(labels)}."

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = {label.lower(): label for label in self.choices}.get(data.lower(), data)
        return super().to_internal_value(data)


# --- JSON types as the schema states them --------------------------------------------------
#
# DRF coerces: a CharField takes 5 as "5", a UUIDField takes an integer, a FloatField takes
# "1.5" and false, a BooleanField takes "yes" and 0. The schema says `string`, `integer`,
# `boolean`, so a JSON body with another type is refused (400) instead of read as something
# the client did not send. Query strings and multipart forms are text by nature: their
# numbers and booleans are still parsed from strings.


class QueryData(dict):
    """Query parameters as a plain dict, one value per name: an empty value is then a value
    (`?project=` is not a UUID) rather than DRF's "absent" for form input."""


def query_data(request) -> QueryData:
    return QueryData(request.query_params.dict())


def _from_text(field) -> bool:
    data = getattr(field.root, "initial_data", None)
    return isinstance(data, (QueryData, QueryDict))


def _strict(cls, accepts, *, text_ok: bool):
    original = cls.to_internal_value

    def to_internal_value(self, data):
        if not accepts(data) and not (text_ok and isinstance(data, str) and _from_text(self)):
            raise serializers.ValidationError(
                f"Expected {cls.json_type}, got {_json_type(data)}.", code="invalid_type"
            )
        return original(self, data)

    to_internal_value.__doc__ = original.__doc__
    cls.to_internal_value = to_internal_value


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_decimal(value) -> bool:
    return _is_number(value) or isinstance(value, Decimal)


def install_strict_json_types() -> None:
    """Called once from CommonConfig.ready()."""
    if getattr(serializers.CharField, "_holdfast_strict", False):
        return
    for cls, json_type, accepts, text_ok in (
        (serializers.CharField, "a string", lambda v: isinstance(v, str), False),
        (serializers.UUIDField, "a string", lambda v: isinstance(v, (str, uuid.UUID)), False),
        (serializers.IntegerField, "an integer", _is_number, True),
        (serializers.FloatField, "a number", _is_number, True),
        (
            serializers.DecimalField,
            "a number",
            lambda v: _is_number(v) or isinstance(v, Decimal),
            True,
        ),
        (serializers.BooleanField, "a boolean", lambda v: isinstance(v, bool), True),
    ):
        cls.json_type = json_type  # type: ignore[union-attr]
        _strict(cls, accepts, text_ok=text_ok)
    serializers.CharField._holdfast_strict = True  # type: ignore[attr-defined]
