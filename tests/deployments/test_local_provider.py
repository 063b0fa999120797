"""The local deploy provider (the default) and the Vercel adapter against a real HTTP
server on 127.0.0.1 speaking the endpoints it uses."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from deployments import services, tasks
from deployments.adapters import AdapterError, RepoRef, provider
from deployments.models import Deployment, DeploymentStatus
from governance.models import AuditEvent
from tests.tenancy import api_client

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def local(settings, monkeypatch):
    settings.DEPLOY_PROVIDER = ""  # unset: the local provider is the default
    provider.set_adapter(None)
    # The worker, in process: what `.delay()` sends is run at once (after commit).
    monkeypatch.setattr(tasks.publish_local_deployment, "delay", tasks.publish_local_deployment)
    yield
    provider.set_adapter(None)


def _url(world, project, suffix=""):
    return f"/api/v1/workspaces/{world.workspace.slug}/projects/{project.pk}/deployments/{suffix}"


def _page(project, world, html, slug="site"):
    preview = services.preview_create(project=project, slug=slug, actor=world.member)
    services.preview_version_create(preview=preview, content={"html": html}, actor=world.member)
    return preview


def test_the_default_provider_is_local(local):
    assert provider.get_adapter().name == "local"


def test_a_deployment_publishes_the_preview_and_reaches_ready_on_celery(
    project, world, local, django_capture_on_commit_callbacks, client
):
    _page(project, world, "<h1>v1</h1>")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client(world.member).post(
            _url(world, project), {"environment": "preview", "commit_sha": SHA}, format="json"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["provider"] == "local" and body["deployment_url"].endswith("/p/" + (
        f"deploy-{project.pk.hex[:12]}-prev/"))  # fmt: skip
    assert len(callbacks) >= 1  # the publish task was sent after commit (eager here)
    deployment = Deployment.objects.get(pk=body["id"])
    assert deployment.status == DeploymentStatus.READY
    assert deployment.started_at and deployment.ended_at
    assert deployment.metadata["source"] == {"preview": "site", "version": 1}
    client.force_login(world.member)
    served = _served(client, deployment)
    assert served.status_code == 200 and b"<h1>v1</h1>" in served.content


def _served(client, deployment):
    path = "/" + deployment.url.split("://", 1)[1].split("/", 1)[1]
    return client.get(path)


def test_rollback_switches_the_pointer_back(
    project, world, local, django_capture_on_commit_callbacks
):
    preview = _page(project, world, "<p>first</p>")
    with django_capture_on_commit_callbacks(execute=True):
        first, _ = services.deployment_create(
            project=project, environment="preview", commit_sha=SHA, actor=world.member
        )
    services.preview_version_create(preview=preview, content={"html": "<p>second</p>"},
                                    actor=world.member)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        second, _ = services.deployment_create(
            project=project, environment="preview", commit_sha=SHA, actor=world.member
        )
    client = Client()
    client.force_login(world.member)
    second.refresh_from_db()
    assert second.status == "ready"
    assert b"second" in _served(client, second).content
    member = api_client(world.member).post(_url(world, project, f"{first.pk}/rollback/"))
    assert member.status_code == 403
    response = api_client(world.admin).post(_url(world, project, f"{first.pk}/rollback/"))
    assert response.status_code == 200, response.content
    assert b"first" in _served(client, second).content  # the pointer moved; nothing rebuilt
    assert AuditEvent.objects.filter(action="rollback", workspace=world.workspace).exists()


def test_an_html_artifact_can_be_published(
    project, world, local, django_capture_on_commit_callbacks
):
    artifact = services.artifact_create(
        project=project, kind="site", logical_key="index", content=b"<b>built</b>",
        content_type="text/html",
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        deployment, _ = services.deployment_create(
            project=project, environment="preview", commit_sha=SHA, actor=world.member,
            metadata={"source": {"artifact": str(artifact.pk)}},
        )  # fmt: skip
    deployment.refresh_from_db()
    assert deployment.status == "ready"
    client = Client()
    client.force_login(world.member)
    assert b"<b>built</b>" in _served(client, deployment).content


def test_nothing_to_publish_is_a_400(project, world, local):
    response = api_client(world.member).post(
        _url(world, project), {"environment": "preview", "commit_sha": SHA}, format="json"
    )
    assert response.status_code == 400
    assert "Nothing to publish" in response.json()["metadata"][0]
    assert not Deployment.objects.exists()


def test_a_lost_publish_task_is_swept_by_the_beat_refresh(project, world, local):
    _page(project, world, "<i>x</i>")
    deployment, _ = services.deployment_create(  # no on-commit callbacks run: the task is lost
        project=project, environment="preview", commit_sha=SHA, actor=world.member
    )
    assert deployment.status == "queued"
    Deployment.objects.filter(pk=deployment.pk).update(
        updated_at=deployment.updated_at.replace(year=2000)
    )
    tasks.refresh_deployments()
    deployment.refresh_from_db()
    assert deployment.status == "ready"
    assert tasks.publish_local_deployment(str(deployment.pk)) == "ready"  # idempotent


def test_manual_transitions_are_for_admins(project, world, local):
    _page(project, world, "<i>x</i>")
    deployment, _ = services.deployment_create(
        project=project, environment="preview", commit_sha=SHA, actor=world.member
    )
    url = _url(world, project, f"{deployment.pk}/transition/")
    assert api_client(world.member).post(url, {"status": "error"}, format="json").status_code == 403
    ok = api_client(world.admin).post(url, {"status": "error"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "error"


# --- the Vercel adapter against a local server ------------------------------------------------


class FakeVercel(BaseHTTPRequestHandler):
    deployments: dict = {}
    seen: list = []

    def _send(self, code, body):
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _authorized(self):
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != "Bearer vercel-test-token":
            self._send(403, {"error": {"code": "forbidden", "message": "Not authorized"}})
            return False
        return True

    def do_POST(self):  # noqa: N802
        if not self._authorized():
            return
        body = self._body()
        if self.path == "/v13/deployments":
            dep = {"id": f"dpl_{len(self.deployments) + 1}", "url": f"{body['name']}-x.vercel.app",
                   "readyState": "QUEUED", "projectId": "prj_1", "body": body}  # fmt: skip
            self.deployments[dep["id"]] = dep
            return self._send(200, dep)
        if self.path == "/v1/storage/stores":
            store = {"id": "store_1", "region": "iad1", "status": "available",
                     "type": body["type"]}  # fmt: skip
            return self._send(200, {"store": store})
        self._send(404, {})

    def do_GET(self):  # noqa: N802
        if not self._authorized():
            return
        dep_id = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/v13/deployments/") and dep_id in self.deployments:
            dep = self.deployments[dep_id]
            dep["readyState"] = "READY"
            return self._send(200, dep)
        self._send(404, {"error": {"code": "not_found"}})

    def do_PATCH(self):  # noqa: N802
        if not self._authorized():
            return
        dep_id = self.path.split("/")[3]
        if dep_id in self.deployments:
            self.deployments[dep_id]["readyState"] = "CANCELED"
            return self._send(200, self.deployments[dep_id])
        self._send(404, {})

    def log_message(self, *args):
        pass


@pytest.fixture
def vercel(settings):
    FakeVercel.deployments, FakeVercel.seen = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeVercel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.DEPLOY_PROVIDER = "vercel"
    settings.DEPLOY_PROVIDER_TOKEN = "vercel-test-token"  # noqa: S105
    settings.DEPLOY_PROVIDER_API_URL = f"http://127.0.0.1:{server.server_address[1]}"
    provider.set_adapter(None)
    yield FakeVercel
    provider.set_adapter(None)
    server.shutdown()


def test_the_vercel_adapter_speaks_the_api_over_a_real_socket(vercel):
    adapter = provider.get_adapter()
    assert adapter.name == "vercel"
    created = adapter.create_deployment(
        project_name="site", environment="production", commit_sha=SHA,
        repo=RepoRef("acme", "site"), ref="main",
    )  # fmt: skip
    assert created.external_deployment_id == "dpl_1" and created.status == "queued"
    assert created.url == "https://site-x.vercel.app"
    sent = vercel.deployments["dpl_1"]["body"]
    assert sent["target"] == "production"
    assert sent["gitSource"] == {"type": "github", "org": "acme", "repo": "site", "ref": "main",
                                 "sha": SHA}  # fmt: skip
    assert adapter.get_deployment(external_deployment_id="dpl_1").status == "ready"
    assert adapter.cancel_deployment(external_deployment_id="dpl_1").status == "cancelled"
    store = adapter.provision_resource(resource_type="kv", name="cache", region="", config={})
    assert store.external_id == "store_1" and store.region == "iad1"
    assert {auth for _, _, auth in vercel.seen} == {"Bearer vercel-test-token"}


def test_a_vercel_deployment_is_recorded_and_refreshed(project, world, vercel):
    deployment, _ = services.deployment_create(
        project=project, environment="preview", commit_sha=SHA, actor=world.member
    )
    assert deployment.provider == "vercel" and deployment.status == "queued"
    deployment = services.deployment_refresh(deployment=deployment)
    assert deployment.status == "ready"


def test_vercel_errors_are_a_502_without_the_token(project, world, vercel, settings):
    settings.DEPLOY_PROVIDER_TOKEN = "wrong-token-value"  # noqa: S105
    with pytest.raises(AdapterError) as caught:
        provider.get_adapter().create_deployment(
            project_name="s", environment="preview", commit_sha=SHA, repo=None, ref=""
        )
    assert "403" in str(caught.value) and "wrong-token-value" not in str(caught.value)
    response = api_client(world.member).post(
        _url(world, project), {"environment": "preview", "commit_sha": SHA}, format="json"
    )
    assert response.status_code == 502
    assert not Deployment.objects.exists()
