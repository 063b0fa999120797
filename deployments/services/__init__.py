"""Shipping-pipeline writes: the one place for idempotency, approvals, audit and redaction.

Rules every function here keeps:
- JSON and free text pass through `redaction.redact` / `redact_text` before storage.
- Side effects (push, merge, production deploy, infra provisioning) run only with an
  approved, unexpired, unused approval whose scope and payload hash match; using it
  marks it used in the same transaction as the record of the action. If the remote
  call fails, the approval stays unused and nothing is recorded but a failed step.
- Remote calls go through `adapters.github` or `adapters.provider`, never HTTP here.
- Serialisation points lock the project row (`_lock_project`), so versions are
  gapless and idempotency keys are checked without races.

The package splits by subject; this module re-exports every public name, so callers
keep writing `from deployments import services; services.run_create(...)`:
`repos` (connect, update, push, merge), `runs` (runs, steps, artifacts), `approvals`,
`releases` (deployments, infra resources), `previews`, `sandbox_jobs`, and `_common`
(errors and shared private helpers).
"""

from common.exceptions import Conflict, Forbidden, ServiceError, ValidationFailed

from ._common import (
    SLUGISH,
    ApprovalRefused,
    IllegalTransition,
    ProviderFailed,
    _write_once,
    canonical_json,
    payload_sha256,
)
from .approvals import (
    approval_approve,
    approval_expire_stale,
    approval_reject,
    approval_request,
)
from .local_deploy import deployment_publish_local, deployment_rollback
from .previews import (
    preview_blob_path,
    preview_create,
    preview_rollback,
    preview_update,
    preview_version_create,
)
from .releases import (
    COMMIT_SHA,
    deployment_cancel,
    deployment_create,
    deployment_refresh,
    deployment_transition,
    infra_provision,
)
from .repos import repo_connect, repo_merge, repo_push, repo_update
from .runs import (
    RUN_TRANSITIONS,
    artifact_create,
    run_create,
    run_transition,
    step_execute,
    step_record,
)
from .sandbox_jobs import (
    LEASE_GRACE,
    sandbox_job_create,
    sandbox_job_execute,
    sandbox_job_retry,
    sandbox_reap,
)

__all__ = [
    "COMMIT_SHA",
    "LEASE_GRACE",
    "RUN_TRANSITIONS",
    "SLUGISH",
    "ApprovalRefused",
    "Conflict",
    "Forbidden",
    "IllegalTransition",
    "ProviderFailed",
    "ServiceError",
    "ValidationFailed",
    "_write_once",
    "approval_approve",
    "approval_expire_stale",
    "approval_reject",
    "approval_request",
    "artifact_create",
    "canonical_json",
    "deployment_cancel",
    "deployment_create",
    "deployment_publish_local",
    "deployment_refresh",
    "deployment_rollback",
    "deployment_transition",
    "infra_provision",
    "payload_sha256",
    "preview_blob_path",
    "preview_create",
    "preview_rollback",
    "preview_update",
    "preview_version_create",
    "repo_connect",
    "repo_merge",
    "repo_push",
    "repo_update",
    "run_create",
    "run_transition",
    "sandbox_job_create",
    "sandbox_job_execute",
    "sandbox_job_retry",
    "sandbox_reap",
    "step_execute",
    "step_record",
]
