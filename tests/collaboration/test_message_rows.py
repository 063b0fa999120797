"""The lean message read (collaboration/rows.py) equals the ORM read it replaces.

The API list and the thread page read `selectors.message_rows_page` (one query, plain
rows); these tests hold its output byte for byte equal to what `message_page` and
`MessageOutput` give for model instances, on whichever database the run uses (SQLite
by default, PostgreSQL with DATABASE_URL), for a thread with edits, deletes and
reactions, for every page of it.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from collaboration import selectors, services
from collaboration.api import serializers as s
from tests.tenancy import api_client

from .helpers import add_member, make_thread, post, ws_url


@pytest.fixture
def busy_thread(world):
    """Seven messages by two authors (one with no display name), edited, deleted,
    reacted to (by two people, one reaction taken back)."""
    thread = make_thread(world)
    other = add_member(world, display_name="")
    ids = [
        post(thread, world.member if i % 2 else other, f"m{i} for @{other.handle}").pk
        for i in range(7)
    ]
    services.message_edit(thread=thread, message_id=ids[1], body="m1 edited", actor=world.member)
    services.message_delete(thread=thread, message_id=ids[2], actor=other)
    for actor in (world.member, other):
        services.message_react(thread=thread, message_id=ids[3], emoji="👍", actor=actor)
    services.message_react(thread=thread, message_id=ids[3], emoji="🎉", actor=other)
    services.message_react(thread=thread, message_id=ids[5], emoji="👀", actor=other)
    services.message_react(thread=thread, message_id=ids[5], emoji="👀", actor=other, removed=True)
    services.message_edit(thread=thread, message_id=ids[6], body="m6 edited", actor=other)
    services.message_delete(thread=thread, message_id=ids[6], actor=world.owner)
    thread.refresh_from_db()
    return thread


def _pages(thread, page_of, limit):
    before, pages = None, []
    while True:
        page = page_of(thread=thread, before_seq=before, limit=limit)
        pages.append(page)
        if not page.has_more:
            return pages
        before = page.messages[0].seq


@pytest.mark.parametrize("limit", [50, 3, 1])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_rows_serialize_byte_for_byte_like_the_orm(world, busy_thread, limit, zone):
    with timezone.override(zone):
        old = _pages(busy_thread, selectors.message_page, limit)
        new = _pages(busy_thread, selectors.message_rows_page, limit)
        assert [p.has_more for p in new] == [p.has_more for p in old]
        for o, n in zip(old, new, strict=True):
            want = s.MessageOutput(o.messages, many=True).data
            got = s.message_rows_data(n.messages)
            assert got == want
            assert JSONRenderer().render(got) == JSONRenderer().render(want)
    assert any(m["edited"] and m["deleted"] for m in got) or limit != 50
    seen = [m for p in new for m in p.messages]
    assert sorted(m.seq for m in seen) == [m.seq for m in busy_thread.messages.order_by("seq")]


def test_rows_carry_what_the_templates_read(world, busy_thread):
    old = selectors.message_page(thread=busy_thread).messages
    new = selectors.message_rows_page(thread=busy_thread).messages
    attrs = ("pk", "author_id", "reactions", "body", "deleted", "edited", "posted_at")
    attrs += ("seq", "last_event_seq", "edited_at", "deleted_at", "client_id")
    for o, n in zip(old, new, strict=True):
        assert [getattr(n, a) for a in attrs] == [getattr(o, a) for a in attrs]
        assert (n.author.pk, n.author.handle, n.author.display_name) == (
            o.author.pk,
            o.author.handle,
            o.author.display_name,
        )
    assert any(m.reactions for m in new) and any(m.deleted for m in new)


def test_the_lean_read_is_one_query(world, busy_thread):
    with CaptureQueriesContext(connection) as captured:
        page = selectors.message_rows_page(thread=busy_thread, before_seq=6, limit=2)
    assert len(captured) == 1
    assert [m.seq for m in page.messages] == [4, 5] and page.has_more


def test_the_api_list_equals_the_orm_serializer_output(world, busy_thread):
    url = ws_url(world, f"threads/{busy_thread.pk}/messages/")
    response = api_client(world.viewer).get(url, {"limit": 4})
    assert response.status_code == 200
    old = selectors.message_page(thread=busy_thread, limit=4)
    body = response.json()
    want = {
        "count": selectors.message_count(thread=busy_thread),
        "next": body["next"],  # a link: checked by the pagination tests in test_api.py
        "previous": None,
        "results": s.MessageOutput(old.messages, many=True).data,
        "has_more": True,
        "next_before_seq": old.messages[0].seq,
    }
    assert f"before_seq={old.messages[0].seq}" in body["next"]
    assert response.content == JSONRenderer().render(want)
