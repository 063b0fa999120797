"""Comments: critical, history-tracked, edited and soft-deleted by author or admin."""

import pytest
from django.db import DatabaseError, connection, transaction

from collaboration import services
from collaboration.models import Comment
from common.exceptions import Conflict, Forbidden, ValidationFailed
from tests.factories import ProjectFactory

from .helpers import add_member, make_project


@pytest.fixture
def project(world):
    return make_project(world)


def _comment(world, project, body="hello", actor=None, parent=None):
    return services.comment_create(
        workspace=world.workspace,
        project=project,
        body=body,
        actor=actor or world.member,
        parent=parent,
    )


def test_delete_is_soft_and_the_text_stays_in_history(world, project):
    comment = _comment(world, project, "the original words")
    services.comment_update(comment=comment, body="second draft", actor=world.member)
    services.comment_delete(comment=comment, actor=world.admin)
    comment.refresh_from_db()
    assert (comment.body, comment.is_deleted) == ("", True)
    history = list(
        comment.history.order_by("history_date").values_list(
            "body", "history_user", "history_change_reason"
        )
    )
    assert history == [
        ("the original words", world.member.pk, "comment created"),
        ("second draft", world.member.pk, "comment edited"),
        ("", world.admin.pk, "comment deleted"),
    ]
    with pytest.raises(Conflict):
        services.comment_update(comment=comment, body="revive", actor=world.member)


def test_only_author_or_admin_may_change(world, project):
    comment = _comment(world, project)
    with pytest.raises(Forbidden):
        services.comment_update(comment=comment, body="x", actor=add_member(world))
    with pytest.raises(Forbidden):
        services.comment_delete(comment=comment, actor=world.viewer)
    services.comment_update(comment=comment, body="by owner", actor=world.owner)
    assert Comment.objects.get(pk=comment.pk).body == "by owner"


def test_replies_stay_on_one_project_and_not_on_deleted(world, project):
    parent = _comment(world, project)
    reply = _comment(world, project, "reply", parent=parent)
    assert list(parent.replies.all()) == [reply]
    with pytest.raises(ValidationFailed):
        _comment(world, make_project(world), "elsewhere", parent=parent)
    with pytest.raises(ValidationFailed):  # a project of another workspace
        _comment(world, ProjectFactory(), "leak")
    services.comment_delete(comment=parent, actor=world.member)
    with pytest.raises(ValidationFailed):
        _comment(world, project, "late", parent=parent)


def test_comment_history_is_immutable(world, project):
    _comment(world, project)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE collaboration_historicalcomment SET body = 'rewritten'")
