"""Fake GitHub and deploy-provider adapters: they record calls and answer like the real ones."""

import hashlib
import itertools
import threading

from deployments.adapters import AdapterError
from deployments.adapters.provider import RemoteDeployment, RemoteResource


class FakeGitHub:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.fail: str | None = None
        self._lock = threading.Lock()

    def _record(self, call, **kwargs):
        with self._lock:
            self.calls.append((call, kwargs))
            if self.fail:
                raise AdapterError(self.fail)
            return hashlib.sha1(f"{call}{len(self.calls)}".encode()).hexdigest()  # noqa: S324

    def push(self, *, repo, branch, base_branch, files, message):
        sha = self._record(
            "push", repo=repo, branch=branch, base_branch=base_branch, files=files, message=message
        )
        return {"commit_sha": sha, "branch": branch}

    def merge(self, *, repo, head, base, message):
        sha = self._record("merge", repo=repo, head=head, base=base, message=message)
        return {"merged": True, "commit_sha": sha}


class FakeProvider:
    name = "fake"

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.fail: str | None = None
        self.initial_status = "queued"
        self.remote_status: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _record(self, call, **kwargs):
        with self._lock:
            self.calls.append((call, kwargs))
            if self.fail:
                raise AdapterError(self.fail)
            return next(self._ids)

    def create_deployment(self, *, project_name, environment, commit_sha, repo, ref):
        n = self._record(
            "create_deployment",
            project_name=project_name,
            environment=environment,
            commit_sha=commit_sha,
            repo=repo,
            ref=ref,
        )
        return RemoteDeployment(
            external_deployment_id=f"dpl_{n}",
            external_project_id="prj_fake",
            url=f"https://{project_name}-{n}.fake.app",
            status=self.initial_status,
        )

    def get_deployment(self, *, external_deployment_id):
        self._record("get_deployment", external_deployment_id=external_deployment_id)
        return RemoteDeployment(
            external_deployment_id=external_deployment_id,
            status=self.remote_status.get(external_deployment_id, "building"),
        )

    def cancel_deployment(self, *, external_deployment_id):
        self._record("cancel_deployment", external_deployment_id=external_deployment_id)
        return RemoteDeployment(external_deployment_id=external_deployment_id, status="cancelled")

    def provision_resource(self, *, resource_type, name, region, config):
        n = self._record(
            "provision_resource", resource_type=resource_type, name=name, region=region
        )
        return RemoteResource(
            external_id=f"res_{n}",
            region=region or "iad1",
            metadata={
                "connection_string": "postgres://admin:s3cr3t-pw@db.fake:5432/app",
                "password": "hunter2hunter2",
                "plan": "hobby",
            },
        )
