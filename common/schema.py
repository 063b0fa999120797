"""OpenAPI completeness: a drf-spectacular postprocessing hook that documents the error
responses every operation can give, all with one `Error` schema, instead of repeating
them on each view.

`Error` is what `common.exceptions.exception_handler` answers: `{"detail", "code"}` for a
refusal (a 402 adds `limit`, `allowed` and `used`), or field errors
(`{"<field>": ["message", …]}`) for a 400.
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
        # A 402 over a plan limit names the limit, its allowance (null: unlimited) and use;
        # a 400 may carry field errors under the same names (a `limit` query parameter).
        "limit": {"oneOf": [{"type": "string"}, {"type": "array"}]},
        "allowed": {"oneOf": [{"type": "integer"}, {"type": "array"}], "nullable": True},
        "used": {"oneOf": [{"type": "integer"}, {"type": "array"}]},
    },
    # One list of messages per field; a nested or listed field nests the same shape.
    "additionalProperties": {"oneOf": [{"type": "array"}, {"type": "object"}]},
}
DESCRIPTIONS = {
    "400": "Invalid input: field errors, or a body that is not storable JSON.",
    "401": "Not authenticated.",
    "402": "Over a plan limit (`code: limit_reached`, with `limit`, `allowed` and `used`).",
    "403": "Authenticated, but the role or capability is insufficient.",
    "404": "Not found, or not visible to the caller (existence is not revealed).",
    "409": "Conflicts with the current state (a duplicate, an illegal transition, or a "
    "database schema version newer than the code's).",
    "413": "The request body is too large.",
    "429": "Too many attempts; retry after the `Retry-After` header.",
    "502": "The upstream provider (deploy provider, GitHub, the project's repository) failed.",
}
WRITE = {"post", "put", "patch", "delete"}
# Operations that call a provider or read the project's repository in the request.
UPSTREAM = (
    ("/deployments/", WRITE),
    ("/repos/", WRITE),
    ("/infra-resources/", WRITE),
    ("/projects/{project_id}/stats/", {"get"}),
    ("/projects/{project_id}/settings/", {"patch"}),
)
# Reads that check stored bytes against their checksum answer 409 on a mismatch.
CHECKSUMMED = ("/artifacts/{id}/download/",)
# Creates that count against a plan limit (common.limits.enforce or the credit ledger).
LIMITED = (
    ("/api/v1/workspaces/", "post"),
    ("/api/v1/workspaces/{workspace_slug}/projects/", "post"),
    ("/api/v1/teams/{team_id}/members/", "post"),
    ("/api/v1/invitations/accept/", "post"),
    ("/projects/{project_id}/files/", "post"),
    ("/projects/{project_id}/artifacts/", "post"),
    ("/projects/{project_id}/deployments/", "post"),
)
# Public operations that still refuse a caller: a signed hook with a bad signature.
SIGNED = ("/api/v1/hooks/",)
# Operations without an id in the path that can still name something missing.
NAMES_A_ROW = (
    ("/api/v1/invitations/accept/", "post"),  # the invitation token
)
THROTTLED = (
    ("/api/v1/auth/tokens/", "post"),  # django-axes
    ("/api/v1/workspaces/{workspace_slug}/kpi/", "post"),  # throttle_scope "kpi"
)


def _matches(path: str, method: str, table) -> bool:
    return any(path.endswith(suffix) and method == verb for suffix, verb in table)


def _codes(path: str, method: str, operation: dict) -> list[str]:
    codes = []
    has_body = "requestBody" in operation
    if has_body or operation.get("parameters"):
        codes.append("400")
    public = any(not s for s in operation.get("security", [{}]))
    if not public or path.startswith(SIGNED):
        codes.append("401")
    if _matches(path, method, LIMITED):
        codes.append("402")
    if "{" in path or not public:
        codes.append("403")
    paged = any(p.get("name") == "page" for p in operation.get("parameters", []))
    # A page number past the last page is a 404 too.
    if "{" in path or paged or _matches(path, method, NAMES_A_ROW):
        codes.append("404")
    # Every write answers 409 while the database's schema version is newer than the code's
    # (durability.middleware.SchemaVersionGuardMiddleware), besides its own conflicts.
    if method in WRITE or path.endswith(CHECKSUMMED):
        codes.append("409")
    if has_body:
        codes.append("413")
    if _matches(path, method, THROTTLED):
        codes.append("429")
    if any(part in path and method in verbs for part, verbs in UPSTREAM):
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
