"""schemathesis hooks for scripts/schemathesis: the run keeps its own footing.

schemathesis reuses ids it has seen in responses, so it soon sends `DELETE
/auth/tokens/{id}/` for the very token it authenticates with, or deletes the seeded
project; every later request would then be a 401 or a 404 and test nothing. A request that
would revoke, delete or demote the run's own token, project or membership is sent for a
fresh random id instead, so those operations are still exercised (as a 404) and the rest
of the run keeps its credential. Ids come from the environment the script sets.
"""

from __future__ import annotations

import os
import uuid

import schemathesis

PROTECTED = {
    # (method, path template, path parameter) → the environment variable holding the id
    ("DELETE", "/api/v1/auth/tokens/{id}/", "id"): "ST_TOKEN_ID",
    ("DELETE", "/api/v1/workspaces/{workspace_slug}/projects/{id}/", "id"): "ST_PROJECT_ID",
    ("PATCH", "/api/v1/workspaces/{workspace_slug}/projects/{id}/", "id"): "ST_PROJECT_ID",
    ("DELETE", "/api/v1/teams/{team_id}/members/{id}/", "id"): "ST_MEMBERSHIP_ID",
    ("PATCH", "/api/v1/teams/{team_id}/members/{id}/", "id"): "ST_MEMBERSHIP_ID",
}


@schemathesis.hook
def before_call(context, case, kwargs):
    path_parameters = case.path_parameters or {}
    for (method, path, name), variable in PROTECTED.items():
        if case.method.upper() != method or case.path != path:
            continue
        protected = os.environ.get(variable, "")
        if protected and str(path_parameters.get(name, "")).lower() == protected.lower():
            path_parameters[name] = str(uuid.uuid4())
