"""Outbound webhooks against a real receiver on 127.0.0.1: the outbox is written in the
event's transaction, deliveries are signed per Standard Webhooks (verified here with the
`standardwebhooks` library), retried with backoff under a stable webhook-id, 410 disables,
redirects fail, private addresses are refused, replay and the sweep re-send. Plus the
notifications the same events produce."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from collaboration import tasks, webhooks
from collaboration.models import Notification, WebhookDelivery, WebhookEndpoint
from common import events
from tests.tenancy import TenancyContract, api_client


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    codes: list = []  # answers to give, in order (then 200)

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body, self.path))
        code = self.codes.pop(0) if self.codes else 200
        self.send_response(code)
        if 300 <= code < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    Receiver.received, Receiver.codes = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_RETRY_SCHEDULE = [1, 2]
    Receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield Receiver
    server.shutdown()


@pytest.fixture
def sent(monkeypatch):
    """Task messages the outbox sends after commit (the worker is driven by hand)."""
    queued = []
    monkeypatch.setattr(tasks.send_webhook_delivery, "delay", lambda pk: queued.append(pk))
    return queued


def _url(world, rest=""):
    return f"/api/v1/workspaces/{world.workspace.slug}/webhooks/{rest}"


def _endpoint(world, receiver, events_=("*",)):
    endpoint, secret = webhooks.webhook_create(
        workspace=world.workspace, url=receiver.url, events=list(events_), actor=world.admin
    )
    return endpoint, secret


def _emit(world, type_="deployment.ready", **data):
    events.emit(type_, workspace_id=world.workspace.pk, data=data or {"id": "d1"})


def test_registration_returns_the_secret_once(world, receiver):
    response = api_client(world.admin).post(
        _url(world), {"url": receiver.url, "events": ["deployment.ready"]}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"id", "url", "events", "secret"}
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    detail = api_client(world.viewer).get(_url(world, f"{body['id']}/")).json()
    assert "secret" not in detail and body["secret"] not in json.dumps(detail)
    listing = api_client(world.member).get(_url(world)).content.decode()
    assert body["secret"] not in listing
    member = api_client(world.member).post(
        _url(world), {"url": receiver.url, "events": ["*"]}, format="json"
    )
    assert member.status_code == 403


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/x", "https://127.0.0.1/x", "https://10.1.2.3/x", "https://localhost/x",
     "https://[::1]/x", "https://169.254.169.254/latest/meta-data", "https://192.168.0.10/"],
)  # fmt: skip
def test_private_and_loopback_addresses_are_refused(world, url, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    response = api_client(world.admin).post(_url(world), {"url": url, "events": ["*"]},
                                            format="json")  # fmt: skip
    assert response.status_code == 400, response.content
    assert "url" in response.json()
    assert not WebhookEndpoint.objects.exists()


def test_unknown_event_types_are_refused(world, receiver):
    response = api_client(world.admin).post(
        _url(world), {"url": receiver.url, "events": ["deployment.exploded"]}, format="json"
    )
    assert response.status_code == 400 and "events" in response.json()


def test_the_outbox_row_lives_and_dies_with_the_event_transaction(
    world, receiver, sent, django_capture_on_commit_callbacks
):
    _endpoint(world, receiver)
    with pytest.raises(RuntimeError), transaction.atomic():
        _emit(world)
        raise RuntimeError("the producer failed")
    assert not WebhookDelivery.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        _emit(world)
        assert sent == []  # nothing is sent before the commit
    delivery = WebhookDelivery.objects.get()
    assert sent == [str(delivery.pk)] and delivery.status == "pending"


def test_a_delivery_is_signed_per_standard_webhooks(world, receiver, sent):
    endpoint, secret = _endpoint(world, receiver)
    _emit(world, id="dep-1", status="ready")
    delivery = WebhookDelivery.objects.get()
    assert webhooks.delivery_send(delivery_id=delivery.pk) is None
    headers, body, _ = receiver.received[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "deployment.ready" and payload["data"]["id"] == "dep-1"
    assert set(payload) == {"type", "timestamp", "data"}
    assert headers["webhook-id"] == delivery.message_id
    assert headers["webhook-signature"].startswith("v1,")
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert delivery.response_status == 200 and delivery.latency_ms is not None
    with pytest.raises(Exception):  # noqa: B017 - a wrong secret does not verify
        Webhook(webhooks.new_secret()).verify(body, headers)


def test_failures_are_retried_with_backoff_under_the_same_id(world, receiver, sent):
    _endpoint(world, receiver)
    receiver.codes = [500, 503]
    _emit(world)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.delivery_send(delivery_id=delivery.pk) == 1.0
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.response_status == 500
    assert delivery.next_attempt_at > timezone.now()
    # too early: the task is asked to wait, nothing is sent
    assert webhooks.delivery_send(delivery_id=delivery.pk) > 0
    assert len(receiver.received) == 1
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhooks.delivery_send(delivery_id=delivery.pk) == 2.0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhooks.delivery_send(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    ids = {headers["webhook-id"] for headers, _, _ in receiver.received}
    assert ids == {delivery.message_id}


def test_attempts_run_out(world, receiver, sent):
    _endpoint(world, receiver)
    receiver.codes = [500, 500, 500]
    _emit(world)
    delivery = WebhookDelivery.objects.get()
    for _ in range(3):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        webhooks.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3


def test_410_disables_the_endpoint(world, receiver, sent):
    endpoint, _ = _endpoint(world, receiver)
    receiver.codes = [410]
    _emit(world)
    webhooks.delivery_send(delivery_id=WebhookDelivery.objects.get().pk)
    endpoint.refresh_from_db()
    assert endpoint.is_active is False and "410" in endpoint.disabled_reason
    _emit(world)
    assert WebhookDelivery.objects.count() == 1  # a disabled endpoint gets no new deliveries


def test_a_redirect_is_a_failure_and_is_not_followed(world, receiver, sent):
    _endpoint(world, receiver)
    receiver.codes = [302]
    _emit(world)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.delivery_send(delivery_id=delivery.pk) == 1.0
    delivery.refresh_from_db()
    assert delivery.response_status == 302 and "redirect" in delivery.last_error
    assert [path for _, _, path in receiver.received] == ["/hook"]


def test_a_host_that_became_private_is_refused_at_send_time(world, receiver, sent, settings):
    _endpoint(world, receiver)
    _emit(world)
    settings.WEBHOOK_ALLOWED_HOSTS = []
    delivery = WebhookDelivery.objects.get()
    webhooks.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("refused") and receiver.received == []


def test_rotation_signs_with_both_secrets_during_the_overlap(world, receiver, sent):
    endpoint, old = _endpoint(world, receiver)
    response = api_client(world.admin).post(_url(world, f"{endpoint.pk}/rotate-secret/"))
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new != old and new.startswith("whsec_")
    _emit(world)
    webhooks.delivery_send(delivery_id=WebhookDelivery.objects.get().pk)
    headers, body, _ = receiver.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


def test_the_log_lists_deliveries_and_replay_keeps_the_id(
    world, receiver, sent, django_capture_on_commit_callbacks
):
    endpoint, _ = _endpoint(world, receiver)
    _emit(world)
    delivery = WebhookDelivery.objects.get()
    webhooks.delivery_send(delivery_id=delivery.pk)
    listing = api_client(world.viewer).get(_url(world, f"{endpoint.pk}/deliveries/"))
    assert listing.status_code == 200
    row = listing.json()["results"][0]
    assert {"status", "attempts", "response_status", "latency_ms", "message_id"} <= set(row)
    assert row["status"] == "delivered" and listing.json()["count"] == 1
    replay_url = _url(world, f"{endpoint.pk}/deliveries/{delivery.pk}/replay/")
    assert api_client(world.member).post(replay_url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(world.admin).post(replay_url)
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert sent[-1] == str(delivery.pk)
    webhooks.delivery_send(delivery_id=delivery.pk)
    assert [h["webhook-id"] for h, _, _ in receiver.received] == [delivery.message_id] * 2


def test_the_sweep_resends_lost_and_stuck_deliveries(world, receiver, sent):
    _endpoint(world, receiver)
    _emit(world)
    _emit(world)
    lost, stuck = WebhookDelivery.objects.order_by("created_at")
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    WebhookDelivery.objects.filter(pk=stuck.pk).update(
        status="sending", attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    sent.clear()
    assert webhooks.webhook_sweep() == 2
    # Re-queued once: the next sweep leaves the lost one alone for a grace period.
    assert webhooks.webhook_sweep() == 1
    for pk in (lost.pk, stuck.pk):
        webhooks.delivery_send(delivery_id=pk)
    assert WebhookDelivery.objects.filter(status="delivered").count() == 2


def test_the_sweep_is_on_the_beat_schedule():
    from config.celery import app

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"collaboration.sweep_webhook_deliveries", "collaboration.prune_notifications"} <= (
        scheduled
    )


def test_subscriptions_filter_by_event_type(world, receiver, sent):
    _endpoint(world, receiver, events_=("backup.failed",))
    _emit(world, "deployment.ready")
    assert not WebhookDelivery.objects.exists()
    _emit(world, "backup.failed")
    assert WebhookDelivery.objects.get().event_type == "backup.failed"


def test_a_posted_message_is_delivered_as_message_created(
    world, receiver, sent, django_capture_on_commit_callbacks
):
    from collaboration import services

    endpoint, secret = _endpoint(world, receiver, events_=("message.created",))
    thread = services.thread_create(workspace=world.workspace, title="T", actor=world.owner)
    url = f"/api/v1/workspaces/{world.workspace.slug}/threads/{thread.pk}/messages/"
    client = api_client(world.member)
    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(url, {"body": "ship it", "client_id": "c1"}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):  # a retry emits nothing more
        assert (
            client.post(url, {"body": "ship it", "client_id": "c1"}, format="json").json()["id"]
            == posted["id"]
        )
    delivery = WebhookDelivery.objects.get()
    assert sent == [str(delivery.pk)] and delivery.event_type == "message.created"
    assert webhooks.delivery_send(delivery_id=delivery.pk) is None
    headers, body, _ = receiver.received[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "message.created"
    assert payload["data"] == {
        "id": posted["id"], "thread": str(thread.pk), "seq": posted["seq"],
        "author": str(world.member.pk), "body": "ship it",
    }  # fmt: skip
    assert headers["webhook-id"] == delivery.message_id


def test_a_failed_post_leaves_no_delivery(world, receiver, sent):
    from collaboration import services

    _endpoint(world, receiver, events_=("message.created",))
    thread = services.thread_create(workspace=world.workspace, title="T", actor=world.owner)
    url = f"/api/v1/workspaces/{world.workspace.slug}/threads/{thread.pk}/messages/"
    response = api_client(world.member).post(url, {"body": "a\u0000b"}, format="json")
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


# --- notifications beyond mentions ------------------------------------------------------


def test_approvals_notify_deciders_then_the_requester(world, sent):
    from deployments import services
    from tests.factories import ProjectFactory

    project = ProjectFactory(workspace=world.workspace)
    approval, _ = services.approval_request(
        project=project, scope="repo.push", payload={"a": 1}, intent_summary="push it",
        actor=world.member,
    )  # fmt: skip
    asked = Notification.objects.filter(kind="approval.requested")
    assert set(asked.values_list("recipient_id", flat=True)) == {world.owner.pk, world.admin.pk}
    services.approval_approve(approval=approval, actor=world.admin)
    decided = Notification.objects.get(kind="approval.decided")
    assert decided.recipient_id == world.member.pk and "approved" in decided.excerpt


def test_deployment_outcomes_notify_the_creator(world, sent):
    from deployments import services
    from deployments.adapters import provider
    from tests.deployments.fakes import FakeProvider
    from tests.factories import ProjectFactory

    provider.set_adapter(FakeProvider())
    try:
        project = ProjectFactory(workspace=world.workspace)
        deployment, _ = services.deployment_create(
            project=project, environment="preview", commit_sha="a" * 40, actor=world.member
        )
        services.deployment_transition(deployment=deployment, status="error", error="boom")
    finally:
        provider.set_adapter(None)
    note = Notification.objects.get(kind="deployment.failed")
    assert note.recipient_id == world.member.pk and "boom" in note.excerpt


def test_an_accepted_invitation_notifies_the_inviter(world, sent):
    from accounts import services
    from tests.factories import UserFactory

    invitee = UserFactory()
    invitation, token = services.invitation_create(
        team=world.workspace.team, email=invitee.email, role="member", actor=world.admin
    )
    services.invitation_accept(token=token, user=invitee)
    note = Notification.objects.get(kind="invitation.accepted")
    assert note.recipient_id == world.admin.pk and invitee.handle in note.excerpt


def test_notifications_are_pruned_after_retention(world, settings):
    from collaboration.retention import notifications_prune

    old = Notification.objects.create(
        workspace=world.workspace, recipient=world.member, kind="backup.failed",
        read_at=timezone.now() - timedelta(days=200),
    )  # fmt: skip
    fresh = Notification.objects.create(
        workspace=world.workspace, recipient=world.member, kind="backup.failed"
    )
    assert notifications_prune() == 1
    assert not Notification.objects.filter(pk=old.pk).exists()
    assert Notification.objects.filter(pk=fresh.pk).exists()


# --- tenancy --------------------------------------------------------------------------------


class TestWebhooksTenancy(TenancyContract):
    routes = ("collaboration-api:webhooks", "collaboration-api:webhook",
              "collaboration-api:webhook-rotate-secret", "collaboration-api:webhook-deliveries",
              "collaboration-api:webhook-delivery-replay")  # fmt: skip
    writer_role = "admin"
    list_queries = 4

    def setup_world(self, world):
        from django.conf import settings

        settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
        endpoint, _ = webhooks.webhook_create(
            workspace=world.workspace, url="http://127.0.0.1:9/hook", events=["*"],
            actor=world.admin,
        )  # fmt: skip
        world.context["endpoint"] = endpoint
        with transaction.atomic():
            webhooks.webhook_outbox_write(workspace_id=world.workspace.pk,
                                          event_type="backup.failed", data={})  # fmt: skip
        world.context["delivery"] = WebhookDelivery.objects.get(endpoint=endpoint)

    def list_url(self, world):
        return _url(world)

    def write(self, world):
        return "post", self.list_url(world), {"url": "http://127.0.0.1:9/x", "events": ["*"]}

    def make_rows(self, world, n):
        for i in range(n):
            webhooks.webhook_create(workspace=world.workspace, url=f"http://127.0.0.1:9/{i}",
                                    events=["*"], actor=world.admin)  # fmt: skip

    def detail_url(self, world):
        return _url(world, f"{world.context['endpoint'].pk}/")

    def update(self, world):
        return "patch", self.detail_url(world), {"events": ["backup.failed"]}

    def probes(self, world):
        endpoint, delivery = world.context["endpoint"], world.context["delivery"]
        return [
            ("post", _url(world, f"{endpoint.pk}/rotate-secret/"), {}),
            ("get", _url(world, f"{endpoint.pk}/deliveries/"), None),
            ("post", _url(world, f"{endpoint.pk}/deliveries/{delivery.pk}/replay/"), {}),
        ]


def test_the_settings_page_shows_endpoints_and_the_delivery_log(world, receiver, sent):
    from django.test import Client

    endpoint, _ = _endpoint(world, receiver)
    receiver.codes = [500]
    _emit(world, "backup.failed")
    webhooks.delivery_send(delivery_id=WebhookDelivery.objects.get().pk)
    client = Client()
    client.force_login(world.admin)
    page = client.get(f"/w/{world.workspace.slug}/settings/").content.decode()
    assert endpoint.url in page and "backup.failed" in page and "500" in page
    assert endpoint.secret not in page


def test_a_host_that_rebinds_to_loopback_is_refused_at_connect(
    world, receiver, sent, settings, monkeypatch
):
    """DNS rebinding: the host answers a public address to every check, then loopback to
    the connection. The guard judges the address actually connected to, so nothing is sent."""
    import socket

    real = socket.getaddrinfo
    port = int(receiver.url.split(":")[2].split("/")[0])
    calls = []

    def rebinding(host, *args, **kwargs):
        if host != "hooks.rebind.test":
            return real(host, *args, **kwargs)
        calls.append(host)
        address = "93.184.216.34" if len(calls) % 2 else "127.0.0.1"  # TTL 0, alternating
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    settings.WEBHOOK_ALLOWED_HOSTS = []
    webhooks.webhook_create(
        workspace=world.workspace, url=f"https://hooks.rebind.test:{port}/hook",
        events=["*"], actor=world.admin,
    )  # fmt: skip
    calls.clear()
    _emit(world)
    delivery = WebhookDelivery.objects.get()
    webhooks.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert len(calls) == 2  # the check before sending, then the connection
    assert delivery.last_error.startswith("refused") and "127.0.0.1" in delivery.last_error
    assert receiver.received == []
