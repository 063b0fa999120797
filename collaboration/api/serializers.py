"""Collaboration serializers: inputs validate, outputs render; none of them writes."""

from datetime import UTC, datetime

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.models import User

from ..models import Comment, EventKind, Message, MessageEvent, Notification, Thread
from ..presence import PresenceActivity, PresenceStatus
from ..services import MAX_BODY


class AuthorOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "handle", "display_name"]


# --- comments ---------------------------------------------------------------------------


class CommentInput(serializers.Serializer):
    project = serializers.UUIDField()
    body = serializers.CharField(max_length=MAX_BODY)
    parent = serializers.UUIDField(required=False, allow_null=True, default=None)


class CommentUpdateInput(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_BODY)


class CommentListQuery(serializers.Serializer):
    project = serializers.UUIDField(required=False)


class CommentOutput(serializers.ModelSerializer):
    author = AuthorOutput(read_only=True)

    class Meta:
        model = Comment
        fields = [
            "id",
            "project",
            "parent",
            "author",
            "body",
            "edited_at",
            "is_deleted",
            "deleted_at",
            "created_at",
            "updated_at",
        ]


# --- threads and messages ---------------------------------------------------------------


class ThreadInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    project = serializers.UUIDField(required=False, allow_null=True, default=None)
    participants = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=50,
        help_text="User ids: makes the thread private to them and the creator (a direct "
        "message with one). Non-participants get 404 on it, its messages and events.",
    )


class ThreadFilterInput(serializers.Serializer):
    project = serializers.UUIDField(required=False, help_text="Only threads of this project.")


class ThreadUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)


class ThreadOutput(serializers.ModelSerializer):
    class Meta:
        model = Thread
        fields = ["id", "title", "project", "created_by", "last_seq", "created_at", "updated_at"]


class MessageInput(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_BODY)
    client_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Unique per thread; a retried post with the same client_id returns the first "
        "message (200) instead of a duplicate.",
    )


class MessageEditInput(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_BODY)


class ReactionInput(serializers.Serializer):
    emoji = serializers.CharField(max_length=32)


class MessageListQuery(serializers.Serializer):
    before_seq = serializers.IntegerField(
        required=False, min_value=1, help_text="Only messages older than this seq."
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=200, default=50, help_text="How many."
    )


class EventListQuery(serializers.Serializer):
    after_seq = serializers.IntegerField(
        required=False, min_value=0, default=0, help_text="Only events after this seq."
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=1000, default=100, help_text="How many."
    )


class MessageOutput(serializers.ModelSerializer):
    author = AuthorOutput(read_only=True)
    reactions = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="{emoji: [user id, ...]}",
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "thread",
            "seq",
            "author",
            "body",
            "client_id",
            "posted_at",
            "edited",
            "edited_at",
            "deleted",
            "deleted_at",
            "reactions",
            "last_event_seq",
        ]


def message_rows_data(rows) -> list[dict]:
    """`MessageOutput(messages, many=True).data` for `rows.MessageRow`s, without the
    serializer machinery: the same keys in the same order, the same values (thread as its
    UUID like the PrimaryKeyRelatedField, ids as str, datetimes through DRF's own
    DateTimeField so format and time zone match). A test holds the two equal."""
    when = serializers.DateTimeField().to_representation
    out = []
    for m in rows:
        a = m.author
        out.append(
            {
                "id": str(m.id),
                "thread": m.thread_id,
                "seq": m.seq,
                "author": {"id": str(a.id), "handle": a.handle, "display_name": a.display_name},
                "body": m.body,
                "client_id": m.client_id,
                "posted_at": when(m.posted_at),
                "edited": m.edited,
                "edited_at": when(m.edited_at) if m.edited_at else None,
                "deleted": m.deleted,
                "deleted_at": when(m.deleted_at) if m.deleted_at else None,
                "reactions": {str(k): [str(u) for u in v] for k, v in m.reactions.items()},
                "last_event_seq": m.last_event_seq,
            }
        )
    return out


# A whole page (not a list to paginate again): the view pages by seq itself.
@extend_schema_serializer(many=False)
class MessagePageOutput(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="Messages in the thread, counted up to 10000 (a longer thread reports 10000)."
    )
    next = serializers.URLField(
        allow_null=True, help_text="The older page (`?before_seq=`); null on the oldest page."
    )
    previous = serializers.URLField(
        allow_null=True, help_text="The newer page; null on the newest page."
    )
    results = MessageOutput(many=True)
    has_more = serializers.BooleanField(help_text="Older messages exist.")
    next_before_seq = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?before_seq= to get the older page."
    )


class EventOutput(serializers.ModelSerializer):
    author_handle = serializers.CharField(source="author.handle", read_only=True)
    kind = serializers.ChoiceField(choices=EventKind.choices)

    class Meta:
        model = MessageEvent
        fields = [
            "id",
            "seq",
            "kind",
            "message_id",
            "author",
            "author_handle",
            "body",
            "emoji",
            "removed",
            "client_id",
            "created_at",
        ]


@extend_schema_serializer(many=False)
class EventPageOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="Events in the thread (its seq is gapless).")
    next = serializers.URLField(
        allow_null=True, help_text="The following page (`?after_seq=`); null on the last page."
    )
    previous = serializers.URLField(
        allow_null=True, help_text="The page before this one; null on the first page."
    )
    results = EventOutput(many=True)
    has_more = serializers.BooleanField()
    next_after_seq = serializers.IntegerField(help_text="Pass as ?after_seq= to continue.")


# --- presence ---------------------------------------------------------------------------


class PresenceInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=PresenceStatus.choices, default=PresenceStatus.ONLINE)
    activity = serializers.ChoiceField(
        choices=PresenceActivity.choices, default=PresenceActivity.BROWSING
    )


def _ts(value: float) -> str:
    return datetime.fromtimestamp(value, tz=UTC).isoformat().replace("+00:00", "Z")


class PresenceOutput(serializers.Serializer):
    user = AuthorOutput()
    status = serializers.CharField()
    activity = serializers.CharField()
    updated_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    def to_representation(self, member):
        return {
            "user": AuthorOutput(member.user).data,
            "status": member.entry.status,
            "activity": member.entry.activity,
            "updated_at": _ts(member.entry.updated_at),
            "expires_at": _ts(member.entry.expires_at),
        }


class PresenceHeartbeatOutput(serializers.Serializer):
    status = serializers.CharField()
    activity = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    ttl_seconds = serializers.IntegerField()


# --- notifications ----------------------------------------------------------------------


class NotificationListQuery(serializers.Serializer):
    unread = serializers.BooleanField(
        required=False, help_text="true: only unread; false: only read; absent: all."
    )


class NotificationOutput(serializers.ModelSerializer):
    actor = AuthorOutput(read_only=True)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "actor",
            "comment",
            "thread",
            "message_id",
            "excerpt",
            "read",
            "read_at",
            "created_at",
        ]

    def get_read(self, notification) -> bool:
        return notification.read_at is not None


class UnreadCountOutput(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkedReadOutput(serializers.Serializer):
    marked = serializers.IntegerField()
