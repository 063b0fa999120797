"""The deploy-provider adapter: every deployment and infra provisioning call goes through
`get_adapter()`.

`DEPLOY_PROVIDER=local` (the default) publishes to the built-in static host
(`adapters.local`); `vercel` speaks Vercel's REST API (`DEPLOY_PROVIDER_TOKEN`,
tested against a local HTTP server speaking the same endpoints); `none` refuses every
call with a clear message. Tests install a fake with `set_adapter()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from django.conf import settings

from . import AdapterError, RepoRef
from ._http import request_json


@dataclass(frozen=True)
class RemoteDeployment:
    external_deployment_id: str
    status: str  # one of deployments.models.DeploymentStatus
    external_project_id: str = ""
    url: str = ""
    error: str = ""


@dataclass(frozen=True)
class RemoteResource:
    external_id: str
    region: str = ""
    metadata: dict = field(default_factory=dict)


class DeployProvider(Protocol):
    name: str

    def create_deployment(
        self,
        *,
        project_name: str,
        environment: str,
        commit_sha: str,
        repo: RepoRef | None,
        ref: str,
    ) -> RemoteDeployment: ...

    def get_deployment(self, *, external_deployment_id: str) -> RemoteDeployment: ...

    def cancel_deployment(self, *, external_deployment_id: str) -> RemoteDeployment: ...

    def provision_resource(
        self, *, resource_type: str, name: str, region: str, config: dict
    ) -> RemoteResource: ...


VERCEL_STATES = {
    "QUEUED": "queued",
    "INITIALIZING": "queued",
    "BUILDING": "building",
    "READY": "ready",
    "ERROR": "error",
    "CANCELED": "cancelled",
}


class VercelAdapter:
    name = "vercel"

    def __init__(self, *, token: str, api_url: str):
        if not token:
            raise AdapterError("The deploy provider is not configured: set DEPLOY_PROVIDER_TOKEN.")
        self.token = token
        self.api_url = api_url.rstrip("/")

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        status, data = request_json(method, f"{self.api_url}{path}", token=self.token, body=body)
        if status == 404:
            raise AdapterError(f"The deploy provider has no {path}.")
        return data

    def _remote(self, data: dict) -> RemoteDeployment:
        url = data.get("url") or ""
        return RemoteDeployment(
            external_deployment_id=data.get("id") or data.get("uid") or "",
            external_project_id=data.get("projectId", ""),
            url=f"https://{url}" if url and "://" not in url else url,
            status=VERCEL_STATES.get(data.get("readyState") or data.get("state") or "", "queued"),
            error=(data.get("errorMessage") or "")[:500],
        )

    def create_deployment(self, *, project_name, environment, commit_sha, repo, ref):
        body: dict = {"name": project_name, "project": project_name}
        if environment == "production":
            body["target"] = "production"
        if repo is not None:
            body["gitSource"] = {
                "type": "github",
                "org": repo.owner,
                "repo": repo.name,
                "ref": ref,
                "sha": commit_sha,
            }
        return self._remote(self._call("POST", "/v13/deployments", body))

    def get_deployment(self, *, external_deployment_id):
        return self._remote(self._call("GET", f"/v13/deployments/{quote(external_deployment_id)}"))

    def cancel_deployment(self, *, external_deployment_id):
        path = f"/v12/deployments/{quote(external_deployment_id)}/cancel"
        return self._remote(self._call("PATCH", path))

    def provision_resource(self, *, resource_type, name, region, config):
        body = {"type": resource_type, "name": name, **({"region": region} if region else {})}
        data = self._call("POST", "/v1/storage/stores", {**config, **body})
        store = data.get("store", data)
        return RemoteResource(
            external_id=store.get("id", ""),
            region=store.get("region", region),
            metadata={"status": store.get("status", ""), "type": store.get("type", resource_type)},
        )


class UnconfiguredProvider:
    name = "none"

    def _refuse(self, **kwargs):
        raise AdapterError("No deploy provider is configured: set DEPLOY_PROVIDER and its token.")

    create_deployment = get_deployment = cancel_deployment = provision_resource = _refuse


_override: DeployProvider | None = None


def set_adapter(adapter: DeployProvider | None) -> None:
    """Install a replacement adapter (tests); None restores the configured one."""
    global _override
    _override = adapter


def get_adapter() -> DeployProvider:
    if _override is not None:
        return _override
    name = (settings.DEPLOY_PROVIDER or "local").strip().lower()
    if name == "vercel":
        return VercelAdapter(
            token=settings.DEPLOY_PROVIDER_TOKEN, api_url=settings.DEPLOY_PROVIDER_API_URL
        )
    if name == "local":
        from .local import LocalProvider

        return LocalProvider()
    return UnconfiguredProvider()
