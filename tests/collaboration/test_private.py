"""Private conversations (participants only, 404 for everyone else) and block effects on
every chat path: mentions, DMs, presence (seed 002 §3, §5)."""

import pytest

from accounts import graph, identity, moderation
from accounts import services as account_services
from collaboration import materialized, selectors, services
from collaboration.models import Notification, ThreadParticipant
from common.exceptions import Forbidden, NotFound, ValidationFailed
from tests.tenancy import api_client

from .helpers import add_member, post, ws_url

pytestmark = pytest.mark.django_db


def _dm(world, a, b, title="just us"):
    response = api_client(a).post(
        ws_url(world, "threads/"), {"title": title, "participants": [str(b.pk)]}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_non_participants_get_404_on_the_thread_its_messages_and_events(world):
    thread_id = _dm(world, world.member, world.admin)
    base = ws_url(world, f"threads/{thread_id}/")
    member, admin = api_client(world.member), api_client(world.admin)
    assert member.post(base + "messages/", {"body": "hi"}).status_code == 201
    assert admin.post(base + "messages/", {"body": "hello"}).status_code == 201
    message_id = member.get(base + "messages/").json()["results"][0]["id"]
    for outsider in (world.owner, world.viewer, world.outsider):
        client = api_client(outsider)
        for url in (base, base + "messages/", base + "events/", base + f"messages/{message_id}/"):
            assert client.get(url).status_code == 404, (outsider, url)
        # A viewer's write is refused by role before the thread is looked up (403 for any id).
        refused = (403, 404) if outsider == world.viewer else (404,)
        assert client.post(base + "messages/", {"body": "sneak"}).status_code in refused
        assert client.patch(base, {"title": "x"}, format="json").status_code in refused
        if outsider != world.outsider:  # a stranger gets 404 on the whole workspace
            listed = client.get(ws_url(world, "threads/")).json()["results"]
            assert thread_id not in [t["id"] for t in listed]
    # Participants see it in lists, on every page of events, and in the messages.
    assert thread_id in [t["id"] for t in member.get(ws_url(world, "threads/")).json()["results"]]
    events = admin.get(base + "events/?after_seq=0").json()
    assert [e["seq"] for e in events["results"]] == [1, 2]


def test_private_thread_pages_are_404_for_non_participants(world, client):
    thread_id = _dm(world, world.member, world.admin)
    client.force_login(world.owner)
    slug = world.workspace.slug
    assert client.get(f"/w/{slug}/chat/{thread_id}/").status_code == 404
    assert client.post(f"/w/{slug}/chat/{thread_id}/messages/", {"body": "x"}).status_code == 404
    page = client.get(f"/w/{slug}/chat/")
    assert page.status_code == 200 and "just us" not in page.content.decode()
    client.force_login(world.admin)
    assert client.get(f"/w/{slug}/chat/{thread_id}/").status_code == 200


def test_participants_must_be_members_and_the_log_stays_rebuildable(world):
    response = api_client(world.member).post(
        ws_url(world, "threads/"),
        {"title": "x", "participants": [str(world.outsider.pk)]},
        format="json",
    )
    assert response.status_code == 400 and "participants" in response.json()
    thread_id = _dm(world, world.member, world.admin)
    thread = selectors.thread_get(workspace=world.workspace, thread_id=thread_id, user=world.admin)
    post(thread, world.admin, "one")
    assert ThreadParticipant.objects.filter(thread=thread).count() == 2
    before = materialized.view_snapshot(world.workspace)
    materialized.rebuild(world.workspace)
    assert materialized.view_snapshot(world.workspace) == before
    with pytest.raises(NotFound):
        selectors.thread_get(workspace=world.workspace, thread_id=thread_id)  # no user: closed


def test_a_mention_in_a_private_thread_never_notifies_a_non_participant(
    world, django_capture_on_commit_callbacks
):
    thread_id = _dm(world, world.member, world.admin)
    thread = selectors.thread_get(workspace=world.workspace, thread_id=thread_id, user=world.member)
    with django_capture_on_commit_callbacks(execute=True):
        post(thread, world.member, f"@{world.owner.handle} @{world.admin.handle} look")
    assert list(Notification.objects.values_list("recipient__handle", flat=True)) == [
        world.admin.handle
    ]


def test_block_stops_mentions(world, django_capture_on_commit_callbacks):
    thread = services.thread_create(workspace=world.workspace, title="open", actor=world.member)
    graph.edge_create(actor=world.admin, to=world.member, type="block")
    with django_capture_on_commit_callbacks(execute=True):
        post(thread, world.member, f"@{world.admin.handle} @{world.owner.handle} hi")
    assert list(Notification.objects.values_list("recipient__handle", flat=True)) == [
        world.owner.handle
    ]


def test_block_stops_dms_both_new_and_existing(world):
    thread_id = _dm(world, world.member, world.admin)
    thread = selectors.thread_get(workspace=world.workspace, thread_id=thread_id, user=world.member)
    graph.edge_create(actor=world.admin, to=world.member, type="block")
    with pytest.raises(ValidationFailed):
        post(thread, world.member, "still there?")
    response = api_client(world.member).post(
        ws_url(world, "threads/"),
        {"title": "again", "participants": [str(world.admin.pk)]},
        format="json",
    )
    assert response.status_code == 400 and "participants" in response.json()


def test_minors_receive_dms_only_from_friends(world):
    minor = add_member(world)
    minor = identity.user_set_age_layer(user=minor, age_layer="minor", actor=None, reason="r")
    body = {"title": "hi", "participants": [str(minor.pk)]}
    response = api_client(world.member).post(ws_url(world, "threads/"), body, format="json")
    assert response.status_code == 400
    graph.edge_create(actor=world.member, to=minor, type="friend")
    graph.edge_create(actor=minor, to=world.member, type="friend")
    response = api_client(world.member).post(ws_url(world, "threads/"), body, format="json")
    assert response.status_code == 201


def test_block_hides_presence_both_ways(world):
    for user in (world.member, world.admin, world.owner):
        services.presence_heartbeat(
            workspace=world.workspace, actor=user, status="online", activity="idle"
        )
    graph.edge_create(actor=world.admin, to=world.member, type="block")
    seen = api_client(world.member).get(ws_url(world, "presence/")).json()
    handles = {p["user"]["handle"] if isinstance(p["user"], dict) else p["user"] for p in seen}
    assert world.admin.handle not in str(seen) and world.owner.handle in str(seen), handles
    assert world.member.handle not in str(
        api_client(world.admin).get(ws_url(world, "presence/")).json()
    )


def test_a_muted_user_cannot_post(world):
    mod = add_member(world)
    account_services.capability_grant(user=mod, capability="moderate", actor=None)
    thread = services.thread_create(workspace=world.workspace, title="open", actor=world.member)
    moderation.moderation_action_create(actor=mod, user=world.member, type="mute", reason="flood")
    with pytest.raises(Forbidden):
        post(thread, world.member, "hello?")


def test_notifications_expire_after_the_retention_days(world, settings):
    from datetime import timedelta

    from django.utils import timezone

    from collaboration.retention import notifications_prune, prune_notifications
    from common.app_list import collect_beat_schedule
    from governance import registry

    settings.NOTIFICATION_RETENTION_DAYS = 30
    thread = services.thread_create(workspace=world.workspace, title="t", actor=world.member)
    old, new = (
        Notification.objects.create(
            workspace=world.workspace,
            recipient=world.admin,
            actor=world.member,
            kind="message_mention",
            thread=thread,
        )
        for _ in range(2)
    )
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert notifications_prune() == 1
    assert list(Notification.objects.all()) == [new]
    assert prune_notifications() == 0
    assert registry.entry_for_key("collaboration.Notification").cleanup == prune_notifications.name
    tasks = {job["task"] for job in collect_beat_schedule().values()}
    assert prune_notifications.name in tasks


def test_a_private_thread_survives_backup_and_restore_still_private(world):
    from durability import services as durability

    thread_id = _dm(world, world.member, world.admin)
    thread = selectors.thread_get(workspace=world.workspace, thread_id=thread_id, user=world.member)
    post(thread, world.member, "secret")
    record = durability.backup_create(workspace=world.workspace)
    durability.backup_restore(backup_id=record.backup_id)
    assert ThreadParticipant.objects.filter(thread_id=thread_id).count() == 2
    with pytest.raises(NotFound):
        selectors.thread_get(workspace=world.workspace, thread_id=thread_id, user=world.owner)
    assert selectors.thread_get(workspace=world.workspace, thread_id=thread_id, user=world.admin)
