"""The Message view is a fold of the event log: rebuilding it reproduces it exactly."""

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collaboration import materialized, services
from collaboration.models import Message
from common.exceptions import Conflict, Forbidden
from tests.tenancy import make_tenant_world

from .helpers import make_thread, post

OPS = st.lists(
    st.tuples(
        st.sampled_from(["text", "edit", "delete", "react", "unreact"]),
        st.integers(min_value=0, max_value=20),  # which message
        st.integers(min_value=0, max_value=2),  # which user
        st.sampled_from(["ok", "tada", ":+1:"]),
        st.text(
            st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
            min_size=1,
            max_size=30,
        ).filter(str.strip),
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_rebuilt_view_equals_the_maintained_view(world, monkeypatch, ops):
    users = [world.owner, world.admin, world.member]
    thread = make_thread(world, actor=world.owner)
    messages = []
    for kind, which, who, emoji, body in ops:
        actor = users[who]
        if kind == "text" or not messages:
            messages.append(post(thread, actor, body))
            continue
        target = messages[which % len(messages)]
        try:
            if kind == "edit":
                services.message_edit(
                    thread=thread, message_id=target.pk, body=body, actor=target.author
                )
            elif kind == "delete":
                services.message_delete(thread=thread, message_id=target.pk, actor=actor)
            else:
                services.message_react(
                    thread=thread,
                    message_id=target.pk,
                    emoji=emoji,
                    actor=actor,
                    removed=kind == "unreact",
                )
        except (Conflict, Forbidden):
            pass  # refused (deleted message, not the author's): records nothing
    maintained = materialized.view_snapshot(world.workspace)
    monkeypatch.setattr(materialized, "BATCH", 3)  # cross chunk boundaries on small threads
    written = materialized.rebuild(world.workspace)
    assert written == Message.objects.filter(thread__workspace=world.workspace).count()
    assert Message.objects.filter(thread=thread).count() == len(messages)
    assert materialized.view_snapshot(world.workspace) == maintained


@pytest.mark.django_db
def test_rebuild_views_command_restores_a_damaged_view(world, capsys):
    thread = make_thread(world)
    a = post(thread, world.member, "a")
    post(thread, world.member, "b")
    services.message_edit(thread=thread, message_id=a.pk, body="a2", actor=world.member)
    other = make_tenant_world()
    post(make_thread(other), other.member, "theirs")
    before = materialized.view_snapshot(world.workspace)
    Message.objects.filter(thread=thread).delete()  # the view is disposable
    Message.objects.filter(thread__workspace=other.workspace).update(body="corrupt")

    call_command("rebuild_views", "--workspace", world.workspace.slug)
    out = capsys.readouterr().out
    assert "collaboration.materialized: 2 rows" in out
    assert materialized.view_snapshot(world.workspace) == before
    assert Message.objects.get(thread__workspace=other.workspace).body == "corrupt"

    call_command("rebuild_views")
    assert Message.objects.get(thread__workspace=other.workspace).body == "theirs"


@pytest.mark.django_db
def test_rebuild_views_unknown_workspace_fails_cleanly():
    with pytest.raises(CommandError, match="No workspace"):
        call_command("rebuild_views", "--workspace", "nope")


def test_views_version_is_declared():
    assert materialized.VIEWS_VERSION == 1
