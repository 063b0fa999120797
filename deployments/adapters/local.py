"""The local deploy provider (`DEPLOY_PROVIDER=local`, the default): no outside service.

Creating a deployment only reserves an id and answers `queued`; the Celery task
`deployments.publish_local_deployment` then publishes the project's content to the
built-in static host (`/p/<slug>/`, see `services.local_deploy`) and walks the deployment
to `ready` with its URL. Status reads answer what the database says.
"""

from __future__ import annotations

import uuid

from . import AdapterError
from .provider import RemoteDeployment


class LocalProvider:
    name = "local"

    def create_deployment(self, *, project_name, environment, commit_sha, repo, ref):
        return RemoteDeployment(external_deployment_id=f"local-{uuid.uuid4().hex}", status="queued")

    def _current(self, external_deployment_id: str) -> RemoteDeployment:
        from ..models import Deployment

        row = Deployment.objects.filter(external_deployment_id=external_deployment_id).first()
        if row is None:
            raise AdapterError("The local provider has no such deployment.")
        return RemoteDeployment(
            external_deployment_id=external_deployment_id, status=row.status, url=row.url,
            error=row.error,
        )  # fmt: skip

    def get_deployment(self, *, external_deployment_id):
        return self._current(external_deployment_id)

    def cancel_deployment(self, *, external_deployment_id):
        current = self._current(external_deployment_id)
        return RemoteDeployment(external_deployment_id=external_deployment_id, status="cancelled",
                                url=current.url)  # fmt: skip

    def provision_resource(self, *, resource_type, name, region, config):
        raise AdapterError(
            "The local deploy provider provisions no infrastructure; set DEPLOY_PROVIDER=vercel."
        )
