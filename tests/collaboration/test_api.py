"""Collaboration endpoints: every one runs the tenancy contract, plus API behaviour."""

import uuid

import pytest

from collaboration import services
from collaboration.models import Comment, Message, MessageEvent, Notification, Thread
from tests.tenancy import TenancyContract, api_client

from .helpers import add_member, make_project, make_thread, post, ws_url

# --- tenancy contract, one class per endpoint ------------------------------------------


class TestThreadsEndpoint(TenancyContract):
    routes = ("collaboration-api:threads",)
    list_queries = 4

    def list_url(self, world):
        return ws_url(world, "threads/")

    def write(self, world):
        return "post", self.list_url(world), {"title": "Launch"}

    def make_rows(self, world, n):
        for i in range(n):
            make_thread(world, title=f"t{i}")


class TestThreadDetailEndpoint(TenancyContract):
    routes = ("collaboration-api:thread",)
    list_queries = 3

    def setup_world(self, world):
        world.context["thread"] = make_thread(world)

    def list_url(self, world):
        return ws_url(world, f"threads/{world.context['thread'].pk}/")

    def write(self, world):
        return "patch", self.list_url(world), {"title": "Renamed"}

    def make_rows(self, world, n):
        for i in range(n):
            make_thread(world, title=f"t{i}")


class ThreadChildContract(TenancyContract):
    def setup_world(self, world):
        thread = make_thread(world)
        world.context["thread"] = thread
        world.context["message"] = post(thread, world.member, "first")

    def thread_url(self, world, rest=""):
        return ws_url(world, f"threads/{world.context['thread'].pk}/{rest}")

    def make_rows(self, world, n):
        for i in range(n):
            post(world.context["thread"], world.owner, f"row {i}")


class TestMessagesEndpoint(ThreadChildContract):
    routes = ("collaboration-api:messages",)
    list_queries = 5

    def list_url(self, world):
        return self.thread_url(world, "messages/")

    def write(self, world):
        return "post", self.list_url(world), {"body": "hi", "client_id": "c-1"}


class TestMessageDetailEndpoint(ThreadChildContract):
    routes = ("collaboration-api:message",)
    list_queries = 4

    def list_url(self, world):
        return self.thread_url(world, f"messages/{world.context['message'].pk}/")

    def write(self, world):
        return "delete", self.list_url(world), None


class TestMessageEditEndpoint(ThreadChildContract):
    routes = ("collaboration-api:message-edit",)
    list_queries = 5

    def list_url(self, world):
        return self.thread_url(world, "messages/")

    def write(self, world):
        url = self.thread_url(world, f"messages/{world.context['message'].pk}/edit/")
        return "post", url, {"body": "edited"}


class TestReactionsEndpoint(ThreadChildContract):
    routes = ("collaboration-api:message-reactions",)
    list_queries = 5

    def list_url(self, world):
        return self.thread_url(world, "messages/")

    def write(self, world):
        url = self.thread_url(world, f"messages/{world.context['message'].pk}/reactions/")
        return "post", url, {"emoji": ":+1:"}


class TestEventsEndpoint(ThreadChildContract):
    routes = ("collaboration-api:events",)
    list_queries = 4

    def list_url(self, world):
        return self.thread_url(world, "events/")


class TestCommentsEndpoint(TenancyContract):
    routes = ("collaboration-api:comments",)
    list_queries = 4

    def setup_world(self, world):
        world.context["project"] = make_project(world)

    def list_url(self, world):
        return ws_url(world, "comments/")

    def write(self, world):
        return (
            "post",
            self.list_url(world),
            {"project": str(world.context["project"].pk), "body": "x"},
        )

    def make_rows(self, world, n):
        for i in range(n):
            services.comment_create(
                workspace=world.workspace,
                project=world.context["project"],
                body=f"c{i}",
                actor=world.member,
            )


class TestCommentDetailEndpoint(TestCommentsEndpoint):
    routes = ("collaboration-api:comment",)
    list_queries = 3

    def setup_world(self, world):
        super().setup_world(world)
        world.context["comment"] = services.comment_create(
            workspace=world.workspace,
            project=world.context["project"],
            body="mine",
            actor=world.member,
        )

    def list_url(self, world):
        return ws_url(world, f"comments/{world.context['comment'].pk}/")

    def write(self, world):
        return "patch", self.list_url(world), {"body": "changed"}


class TestPresenceEndpoint(TenancyContract):
    routes = ("collaboration-api:presence",)
    list_queries = 3

    viewer_may_write = True

    def list_url(self, world):
        return ws_url(world, "presence/")

    def write(self, world):
        return "post", self.list_url(world), {"status": "online", "activity": "chatting"}

    def make_rows(self, world, n):
        for _ in range(n):
            services.presence_heartbeat(
                workspace=world.workspace, actor=add_member(world), status="online", activity="idle"
            )


class NotificationContract(TenancyContract):
    viewer_may_write = True  # read marks are the caller's own state
    writer_role = "viewer"

    def make_rows(self, world, n):
        thread = world.context.setdefault("thread", make_thread(world, actor=world.owner))
        for _ in range(n):
            services.notifications_create_for_mentions(
                workspace=world.workspace,
                actor=world.owner,
                handles={world.member.handle},
                kind="message_mention",
                excerpt="x",
                thread=thread,
            )


class TestNotificationsEndpoint(NotificationContract):
    routes = (
        "collaboration-api:notifications",
        "collaboration-api:notifications-read-all",
    )
    list_queries = 4

    def list_url(self, world):
        return ws_url(world, "notifications/")

    def write(self, world):
        return "post", ws_url(world, "notifications/read-all/"), {}


class TestNotificationUnreadCountEndpoint(NotificationContract):
    routes = (
        "collaboration-api:notifications-unread-count",
        "collaboration-api:notification-read",
    )
    list_queries = 3

    def list_url(self, world):
        return ws_url(world, "notifications/unread-count/")

    def write(self, world):
        notification = services.notifications_create_for_mentions(
            workspace=world.workspace,
            actor=world.owner,
            handles={world.viewer.handle},
            kind="comment_mention",
            excerpt="x",
        )[0]
        return "post", ws_url(world, f"notifications/{notification.pk}/read/"), {}


# --- behaviour through the API --------------------------------------------------------


@pytest.fixture
def thread(world):
    return make_thread(world)


def test_retried_post_with_same_client_id_returns_the_first_message(world, thread):
    url = ws_url(world, f"threads/{thread.pk}/messages/")
    client = api_client(world.member)
    first = client.post(url, {"body": "once", "client_id": "abc"}, format="json")
    again = client.post(url, {"body": "once", "client_id": "abc"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert MessageEvent.objects.filter(thread=thread).count() == 1
    assert Message.objects.filter(thread=thread).count() == 1


def test_messages_list_newest_last_and_pages_back(world, thread):
    for i in range(7):
        post(thread, world.member, f"m{i}")
    url = ws_url(world, f"threads/{thread.pk}/messages/")
    client = api_client(world.viewer)
    page = client.get(url, {"limit": 3}).json()
    assert [m["body"] for m in page["results"]] == ["m4", "m5", "m6"]
    assert page["has_more"] is True
    older = client.get(url, {"limit": 3, "before_seq": page["next_before_seq"]}).json()
    assert [m["body"] for m in older["results"]] == ["m1", "m2", "m3"]
    last = client.get(url, {"limit": 3, "before_seq": older["next_before_seq"]}).json()
    assert [m["body"] for m in last["results"]] == ["m0"]
    assert last["has_more"] is False and last["next_before_seq"] is None


def test_messages_pages_carry_count_next_and_previous(world, thread):
    for i in range(7):
        post(thread, world.member, f"m{i}")
    url = ws_url(world, f"threads/{thread.pk}/messages/")
    client = api_client(world.viewer)
    newest = client.get(url, {"limit": 3}).json()
    assert newest["count"] == 7 and newest["previous"] is None
    bodies = []
    page = newest
    while page["next"]:  # a client follows `next` without knowing the scheme
        page = client.get(page["next"]).json()
        assert page["count"] == 7
        bodies.append([m["body"] for m in page["results"]])
    assert bodies == [["m1", "m2", "m3"], ["m0"]]
    assert page["next"] is None
    # ... and walks back with `previous` to the newest page
    back = []
    while page["previous"]:
        page = client.get(page["previous"]).json()
        back.append([m["body"] for m in page["results"]])
    assert back == [["m1", "m2", "m3"], ["m4", "m5", "m6"]]
    assert page["previous"] is None and page["results"] == newest["results"]


def test_message_count_is_bounded(world, thread, monkeypatch):
    from collaboration import selectors

    for i in range(4):
        post(thread, world.member, f"m{i}")
    monkeypatch.setattr(selectors, "MESSAGE_COUNT_CAP", 3)
    page = api_client(world.viewer).get(ws_url(world, f"threads/{thread.pk}/messages/")).json()
    assert page["count"] == 3 and len(page["results"]) == 4


def test_events_after_seq_is_sequence_paginated(world, thread):
    message = post(thread, world.member, "a")
    post(thread, world.member, "b")
    services.message_edit(thread=thread, message_id=message.pk, body="a2", actor=world.member)
    url = ws_url(world, f"threads/{thread.pk}/events/")
    client = api_client(world.viewer)
    first = client.get(url, {"after_seq": 0, "limit": 2}).json()
    assert [e["seq"] for e in first["results"]] == [1, 2]
    assert first["has_more"] is True
    rest = client.get(url, {"after_seq": first["next_after_seq"]}).json()
    assert [(e["seq"], e["kind"], e["body"]) for e in rest["results"]] == [(3, "edit", "a2")]
    assert rest["has_more"] is False and rest["next_after_seq"] == 3
    assert (first["count"], rest["count"]) == (3, 3)
    assert first["previous"] is None and rest["next"] is None
    followed = client.get(first["next"]).json()
    assert followed["results"] == rest["results"]
    assert client.get(followed["previous"]).json()["results"] == first["results"]
    assert client.get(url, {"after_seq": -1}).status_code == 400


def test_edit_is_author_only_and_delete_author_or_admin(world, thread):
    message = post(thread, world.member, "secret plan")
    base = ws_url(world, f"threads/{thread.pk}/messages/{message.pk}/")
    other = add_member(world)
    assert api_client(world.admin).post(base + "edit/", {"body": "x"}).status_code == 403
    assert api_client(other).delete(base).status_code == 403
    edited = api_client(world.member).post(base + "edit/", {"body": "better plan"})
    assert edited.status_code == 200 and edited.json()["edited"] is True
    deleted = api_client(world.admin).delete(base)
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] is True and deleted.json()["body"] == ""
    # The original text stays in the event log.
    bodies = list(MessageEvent.objects.filter(thread=thread).values_list("kind", "body"))
    assert bodies == [("text", "secret plan"), ("edit", "better plan"), ("delete", "")]
    assert api_client(world.member).post(base + "edit/", {"body": "y"}).status_code == 409


def test_reactions_add_and_take_back_idempotently(world, thread):
    message = post(thread, world.member, "ship it")
    url = ws_url(world, f"threads/{thread.pk}/messages/{message.pk}/reactions/")
    client = api_client(world.owner)
    assert client.post(url, {"emoji": ":+1:"}).json()["reactions"] == {
        ":+1:": [str(world.owner.pk)]
    }
    client.post(url, {"emoji": ":+1:"})  # already there: no new event
    assert MessageEvent.objects.filter(thread=thread, kind="reaction").count() == 1
    response = client.delete(url + "?emoji=:%2B1:")
    assert response.status_code == 200 and response.json()["reactions"] == {}
    assert client.delete(url).status_code == 400  # no emoji given


def test_bad_input_is_400_with_field_errors_never_500(world, thread):
    client = api_client(world.member)
    r = client.post(ws_url(world, "threads/"), {"title": "", "project": "nope"}, format="json")
    assert r.status_code == 400 and set(r.json()) == {"title", "project"}
    r = client.post(ws_url(world, "threads/"), {"title": "x", "project": str(uuid.uuid4())})
    assert r.status_code == 400 and "project" in r.json()
    r = client.post(ws_url(world, f"threads/{thread.pk}/messages/"), {"body": "  "})
    assert r.status_code == 400 and "body" in r.json()
    r = client.post(ws_url(world, f"threads/{thread.pk}/messages/"), {"body": "x" * 20_001})
    assert r.status_code == 400 and "body" in r.json()
    r = client.post(ws_url(world, "comments/"), {"project": str(uuid.uuid4()), "body": "x"})
    assert r.status_code == 400 and "project" in r.json()
    r = client.post(ws_url(world, f"threads/{thread.pk}/messages/"), {"body": "a\x00b"})
    assert r.status_code == 400 and "body" in r.json()
    raw = b'{"body": "lone \\ud800 surrogate"}'  # valid JSON, not storable text
    r = client.post(
        ws_url(world, f"threads/{thread.pk}/messages/"), raw, content_type="application/json"
    )
    assert r.status_code == 400 and "body" in r.json()
    r = client.post(
        ws_url(world, "comments/"),
        b'{"project": "%s", "body": "\\ud800"}' % str(make_project(world).pk).encode(),
        content_type="application/json",
    )
    assert r.status_code == 400 and "body" in r.json()
    r = client.get(ws_url(world, f"threads/{thread.pk}/messages/"), {"limit": "many"})
    assert r.status_code == 400 and "limit" in r.json()
    r = client.post(ws_url(world, "presence/"), {"status": "dancing"})
    assert r.status_code == 400 and "status" in r.json()
    assert Thread.objects.filter(workspace=world.workspace).count() == 1


def test_a_thread_of_another_workspace_is_404(world):
    from tests.tenancy import make_tenant_world

    other = make_tenant_world()
    foreign = make_thread(other)
    url = ws_url(world, f"threads/{foreign.pk}/messages/")
    assert api_client(world.member).get(url).status_code == 404
    assert api_client(world.member).post(url, {"body": "leak"}).status_code == 404
    assert MessageEvent.objects.filter(thread=foreign).count() == 0


def test_thread_tied_to_a_project(world):
    project = make_project(world)
    r = api_client(world.member).post(
        ws_url(world, "threads/"), {"title": "Design", "project": str(project.pk)}, format="json"
    )
    assert r.status_code == 201 and r.json()["project"] == str(project.pk)
    assert Thread.objects.get(pk=r.json()["id"]).history.first().history_user == world.member


def test_threads_filter_by_project(world):
    project = make_project(world)
    client = api_client(world.viewer)
    tied = services.thread_create(
        workspace=world.workspace, title="tied", project=project, actor=world.member
    )
    services.thread_create(workspace=world.workspace, title="loose", actor=world.member)
    body = client.get(ws_url(world, f"threads/?project={project.pk}")).json()
    assert [t["id"] for t in body["results"]] == [str(tied.pk)]
    assert len(client.get(ws_url(world, "threads/")).json()["results"]) == 2
    response = client.get(ws_url(world, "threads/?project=not-a-uuid"))
    assert response.status_code == 400 and "project" in response.json()


def test_comment_api_edit_and_soft_delete(world):
    project = make_project(world)
    client = api_client(world.member)
    created = client.post(
        ws_url(world, "comments/"), {"project": str(project.pk), "body": "first"}, format="json"
    ).json()
    reply = client.post(
        ws_url(world, "comments/"),
        {"project": str(project.pk), "body": "reply", "parent": created["id"]},
        format="json",
    )
    assert reply.status_code == 201 and reply.json()["parent"] == created["id"]
    url = ws_url(world, f"comments/{created['id']}/")
    assert api_client(add_member(world)).patch(url, {"body": "hijack"}).status_code == 403
    assert client.patch(url, {"body": "second"}).json()["body"] == "second"
    deleted = api_client(world.admin).delete(url).json()
    assert deleted["is_deleted"] is True and deleted["body"] == ""
    listed = client.get(ws_url(world, "comments/"), {"project": str(project.pk)}).json()
    assert [c["id"] for c in listed["results"]] == [created["id"], reply.json()["id"]]
    assert Comment.objects.count() == 2


def test_presence_viewer_heartbeat_and_listing(world):
    client = api_client(world.viewer)
    r = client.post(ws_url(world, "presence/"), {"status": "away", "activity": "browsing"})
    assert r.status_code == 200 and r.json()["ttl_seconds"] == 90
    listed = api_client(world.member).get(ws_url(world, "presence/")).json()
    assert [(p["user"]["handle"], p["status"]) for p in listed] == [(world.viewer.handle, "away")]
    client.post(ws_url(world, "presence/"), {"status": "offline"})
    assert api_client(world.member).get(ws_url(world, "presence/")).json() == []


def test_notifications_api_unread_count_and_mark_read(world, django_capture_on_commit_callbacks):
    thread = make_thread(world)
    client = api_client(world.viewer)
    with django_capture_on_commit_callbacks(execute=True):
        api_client(world.member).post(
            ws_url(world, f"threads/{thread.pk}/messages/"),
            {"body": f"@{world.viewer.handle} and @{world.owner.handle} look"},
        )
    assert client.get(ws_url(world, "notifications/unread-count/")).json() == {"unread": 1}
    listed = client.get(ws_url(world, "notifications/"), {"unread": "true"}).json()["results"]
    assert [(n["kind"], n["read"]) for n in listed] == [("message_mention", False)]
    # Someone else's notification is not found.
    mine = listed[0]["id"]
    assert (
        api_client(world.owner).post(ws_url(world, f"notifications/{mine}/read/")).status_code
        == 404
    )
    r = client.post(ws_url(world, f"notifications/{mine}/read/"))
    assert r.status_code == 200 and r.json()["read"] is True
    assert client.get(ws_url(world, "notifications/unread-count/")).json() == {"unread": 0}
    owner = api_client(world.owner)
    assert owner.post(ws_url(world, "notifications/read-all/")).json() == {"marked": 1}
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_schema_lists_the_collaboration_paths(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    prefix = "/api/v1/workspaces/{workspace_slug}/"
    for path in (
        "threads/",
        "threads/{thread_id}/messages/",
        "threads/{thread_id}/messages/{message_id}/edit/",
        "threads/{thread_id}/messages/{message_id}/reactions/",
        "threads/{thread_id}/events/",
        "comments/",
        "presence/",
        "notifications/",
        "notifications/unread-count/",
    ):
        assert prefix + path in schema["paths"], path
