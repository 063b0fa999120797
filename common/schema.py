"""OpenAPI completeness: a drf-spectacular postprocessing hook that documents the error
responses every operation can give, all with one `Error` schema, instead of repeating
them on each view.

`Error` is what `common.exceptions.exception_handler` answers: `{"detail", "code"}` for a
refusal, or field errors (`{"<field>": ["message", …]}`) for a 400.
"""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "An error: `detail` (and a machine-readable `code`) for a refusal, or one list of "
        "messages per invalid field for a 400."
    ),
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    # One list of messages per field; a nested or listed field nests the same shape.
    "additionalProperties": {"oneOf": [{"type": "array"}, {"type": "object"}]},
}
DESCRIPTIONS = {
    "400": "Invalid input: field errors, or a body that is not storable JSON.",
    "401": "Not authenticated.",
    "403": "Authenticated, but the role or capability is insufficient.",
    "404": "Not found, or not visible to the caller (existence is not revealed).",
    "409": "Conflicts with the current state.",
    "413": "The request body is too large.",
    "429": "Too many attempts; retry after the `Retry-After` header.",
    "502": "The upstream provider (deploy provider, GitHub) failed.",
}
WRITE = {"post", "put", "patch", "delete"}
UPSTREAM = ("/deployments/", "/repos/", "/infra-resources/")
# Reads that check stored bytes against their checksum answer 409 on a mismatch.
CHECKSUMMED = ("/artifacts/{id}/download/",)


def _codes(path: str, method: str, operation: dict) -> list[str]:
    codes = []
    has_body = "requestBody" in operation
    if has_body or operation.get("parameters"):
        codes.append("400")
    public = any(not s for s in operation.get("security", [{}]))
    if not public:
        codes.append("401")
    if "{" in path or not public:
        codes.append("403")
    paged = any(p.get("name") == "page" for p in operation.get("parameters", []))
    if "{" in path or paged:  # a page number past the last page is a 404 too
        codes.append("404")
    if (method in WRITE and "{" in path) or path.endswith(CHECKSUMMED):
        codes.append("409")
    if has_body:
        codes.append("413")
    if path.endswith("/auth/tokens/") and method == "post":
        codes.append("429")
    if method in WRITE and any(part in path for part in UPSTREAM):
        codes.append("502")
    return codes


def add_error_responses(result, generator, request, public):
    """POSTPROCESSING_HOOKS entry: adds the shared `Error` component and the error
    responses of every operation (those a view declared itself are kept)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in _codes(path, method, operation):
                responses.setdefault(
                    code,
                    {
                        "description": DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
