"""Collaboration pages: chat threads and live updates, comments, notifications, presence."""

import re

import pytest

from collaboration import services
from collaboration.models import Comment, Message
from tests.page_data import fill
from tests.pages import PageContract, signed_in
from tests.tenancy import make_tenant_world


class TestThreadsPage(PageContract):
    queries = 7
    write_marker = "Start thread"

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/chat/"

    def write(self, world, filled):
        return self.url(world, filled), {"title": "new"}


class TestThreadPage(PageContract):
    queries = 7
    write_marker = 'id="message-form"'

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/"

    def write(self, world, filled):
        return self.url(world, filled) + "messages/", {"body": "hi"}


class TestUpdatesPartial(PageContract):
    queries = 8

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/updates/?after_seq=0"


class TestNotificationsPage(PageContract):
    queries = 7

    def url(self, world, filled):
        return f"/w/{world.workspace.slug}/notifications/"


@pytest.fixture
def chat(db):
    world = make_tenant_world()
    return world, fill(world, 3)


def test_updates_after_the_last_seq_are_empty_then_carry_the_new_message(chat):
    world, filled = chat
    client = signed_in(world.admin)
    base = f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/"
    assert client.get(base + "updates/?after_seq=3").status_code == 204
    services.message_post(
        thread=filled.thread, body="fresh @" + world.admin.handle, actor=world.owner
    )
    body = client.get(base + "updates/?after_seq=3").content.decode()
    assert "fresh" in body and 'hx-swap-oob="beforeend:#messages"' in body
    assert "after_seq=4" in body  # the poller moves on
    assert '<span class="mention">@' in body


def test_edit_shows_as_an_out_of_band_replacement(chat):
    world, filled = chat
    message = Message.objects.filter(thread=filled.thread).order_by("seq").first()
    services.message_edit(
        thread=filled.thread, message_id=message.pk, body="changed", actor=world.member
    )
    body = (
        signed_in(world.admin)
        .get(f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/updates/?after_seq=3")
        .content.decode()
    )
    assert f'id="msg-{message.pk}"' in body and 'hx-swap-oob="true"' in body and "changed" in body


def test_htmx_post_returns_a_fresh_form_and_triggers_a_poll(chat):
    world, filled = chat
    url = f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/messages/"
    response = signed_in(world.member).post(url, {"body": "hello there"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "chat-updated"
    assert Message.objects.filter(thread=filled.thread, body="hello there").exists()


def test_blank_message_keeps_the_form_with_its_error(chat):
    world, filled = chat
    url = f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/messages/"
    response = signed_in(world.member).post(url, {"body": "   "}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "This field is required." in body or "may not be blank" in body
    assert 'id="message-form"' in body


def test_reaction_toggles(chat):
    world, filled = chat
    message = Message.objects.filter(thread=filled.thread).first()
    url = f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/messages/{message.pk}/react/"
    client = signed_in(world.member)
    client.post(url, {"emoji": "👍"}, HTTP_HX_REQUEST="true")
    assert Message.objects.get(pk=message.pk).reactions == {"👍": [str(world.member.pk)]}
    client.post(url, {"emoji": "👍"}, HTTP_HX_REQUEST="true")
    assert Message.objects.get(pk=message.pk).reactions == {}


def test_only_the_author_may_edit_a_message(chat):
    world, filled = chat
    message = Message.objects.filter(thread=filled.thread).first()  # by world.member
    url = f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/messages/{message.pk}/edit/"
    assert signed_in(world.admin).post(url, {"body": "x"}).status_code == 403


def test_comment_edit_error_keeps_what_was_typed_and_history_shows_versions(chat):
    world, filled = chat
    comment = Comment.objects.filter(project=filled.project).first()
    base = f"/w/{world.workspace.slug}/p/{filled.project.slug}/comments/{comment.pk}/"
    client = signed_in(world.member)
    too_long = "y" * 20_001
    body = client.post(base + "edit/", {"body": too_long}).content.decode()
    assert "at most 20000 characters" in body and too_long in body
    assert client.post(base + "edit/", {"body": "second version"}).status_code == 302
    history = client.get(base + "history/", HTTP_HX_REQUEST="true").content.decode()
    assert "second version" in history and "comment edited" in history


def test_reply_lands_under_its_comment(chat):
    world, filled = chat
    parent = Comment.objects.filter(project=filled.project).first()
    url = f"/w/{world.workspace.slug}/p/{filled.project.slug}/comments/"
    response = signed_in(world.member).post(url, {"body": "a reply", "parent": parent.pk})
    assert response.status_code == 302
    assert Comment.objects.get(body="a reply").parent_id == parent.pk


def test_viewer_sends_presence_and_appears(chat):
    world, _ = chat
    client = signed_in(world.viewer)
    url = f"/w/{world.workspace.slug}/presence/"
    assert client.post(url, {"status": "online", "activity": "chatting"}).status_code == 204
    assert world.viewer.handle in client.get(url).content.decode()


def test_header_badge_counts_unread_in_this_workspace(chat):
    world, _ = chat
    client = signed_in(world.viewer)
    body = client.get(f"/w/{world.workspace.slug}/").content.decode()
    assert re.search(r'id="unread-count">3<', body)
    client.post(f"/w/{world.workspace.slug}/notifications/read-all/")
    body = client.get(f"/w/{world.workspace.slug}/").content.decode()
    assert re.search(r'id="unread-count">0<', body)


def test_cached_message_fragments_follow_edits_reactions_and_the_viewer(chat):
    world, filled = chat
    message = Message.objects.filter(thread=filled.thread).first()  # by world.member
    url = f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/"
    member, viewer, admin = (signed_in(u) for u in (world.member, world.viewer, world.admin))
    before = member.get(url).content.decode()  # fills the item cache
    assert message.body in before and 'aria-label="Delete message"' in before
    services.message_edit(
        thread=filled.thread, message_id=message.pk, body="cache-proof", actor=world.member
    )
    services.message_react(
        thread=filled.thread, message_id=message.pk, emoji="🎉", actor=world.admin
    )
    after = member.get(url).content.decode()
    assert "cache-proof" in after and "🎉 reaction, 1" in after
    # The member's cached fragments never reach another viewer: a viewer sees no controls,
    # an admin may delete anyone's message but edit only their own.
    as_viewer = viewer.get(url).content.decode()
    assert "cache-proof" in as_viewer and "Delete message" not in as_viewer
    assert 'form="chat-actions"' not in as_viewer
    as_admin = admin.get(url).content.decode()
    item = as_admin[as_admin.index(f'id="msg-{message.pk}"') :].split("</li>")[0]
    assert "Delete message" in item and "/edit/" not in item


def test_message_and_comment_forms_load_on_demand(chat):
    world, filled = chat
    message = Message.objects.filter(thread=filled.thread).first()  # by world.member
    comment = Comment.objects.filter(project=filled.project, parent=None).first()
    member = signed_in(world.member)
    edit = f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/messages/{message.pk}/edit/"
    part = member.get(edit, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in part and 'name="body"' in part and message.body in part
    assert "<html" in member.get(edit).content.decode()  # without htmx: a page
    assert signed_in(world.admin).get(edit).status_code == 403  # not the author
    base = f"/w/{world.workspace.slug}/p/{filled.project.slug}/comments/{comment.pk}/"
    reply = member.get(base + "reply/", HTTP_HX_REQUEST="true").content.decode()
    assert f'name="parent" value="{comment.pk}"' in reply and "csrfmiddlewaretoken" in reply
    assert signed_in(world.viewer).get(base + "reply/").status_code == 403
    services.comment_update(comment=comment, body="edited body", actor=comment.author)
    project = member.get(f"/w/{world.workspace.slug}/p/{filled.project.slug}/").content.decode()
    assert "edited body" in project


def test_blank_message_without_htmx_reshows_the_thread_with_its_messages(chat):
    world, filled = chat
    url = f"/w/{world.workspace.slug}/chat/{filled.thread.pk}/"
    shown = Message.objects.filter(thread=filled.thread).first()
    body = signed_in(world.member).post(url + "messages/", {"body": "   "}).content.decode()
    assert 'id="message-form"' in body and f'id="msg-{shown.pk}"' in body


def test_header_badge_stops_counting_at_99_plus(chat):
    from collaboration.models import Notification

    world, filled = chat
    Notification.objects.bulk_create(
        Notification(
            workspace=world.workspace,
            recipient=world.viewer,
            actor=world.member,
            kind="message_mention",
            thread=filled.thread,
        )
        for _ in range(120)
    )
    body = signed_in(world.viewer).get(f"/w/{world.workspace.slug}/").content.decode()
    assert re.search(r'id="unread-count">99\+<', body) and "Notifications: 99+ unread" in body
