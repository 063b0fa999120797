"""Collaboration: comments, chat threads with an append-only event log and its
materialized current-message view, and mention notifications.

- Comment and Thread are critical and history-tracked (history tables immutable).
- MessageEvent is the chat's source of truth: append-only, immutable at the
  database level, numbered by a gapless per-thread `seq`.
- Message is the materialized view of the events (one row per message, its
  current body, flags and reactions); `collaboration.materialized.rebuild`
  regenerates it exactly.
- Presence is not here: it lives in Redis or in process (`collaboration.presence`).

All writes go through `collaboration.services`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import DataClass, data_class

USER = settings.AUTH_USER_MODEL


# --- comments ----------------------------------------------------------------------------


@data_class(
    DataClass.CRITICAL,
    tenant="workspace",
    reason="Comments are the team's discussion of a project; edits and deletes keep history.",
)
class Comment(BaseModel):
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="comments"
    )
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="comments"
    )
    # RESTRICT (not PROTECT) inside the tenant: a reply blocks deleting its parent alone,
    # yet the sanctioned purge of a whole workspace can cascade through both.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.RESTRICT, related_name="replies"
    )
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        verbose_name = "comment"
        indexes = [
            models.Index(fields=["project", "created_at"], name="comment_project_created"),
            # what an incremental backup reads: the rows changed since its parent
            models.Index(fields=["updated_at"], name="comment_updated_at"),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} by {self.author_id}"


# --- chat -------------------------------------------------------------------------------


@data_class(
    DataClass.CRITICAL,
    tenant="workspace",
    reason="Chat threads of a workspace; the container every message event hangs off.",
)
class Thread(BaseModel):
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="threads"
    )
    project = models.ForeignKey(
        "workspaces.Project",
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="threads",
    )
    title = models.CharField(max_length=200)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    # The highest seq handed out, a cache of max(seq) of the thread's events that the
    # posting service writes under the thread's row lock; derived, so not in the history.
    last_seq = models.BigIntegerField(default=0)

    history = HistoricalRecords(excluded_fields=["last_seq"])

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "chat thread"

    def __str__(self) -> str:
        return self.title


class EventKind(models.TextChoices):
    TEXT = "text", "Text"
    EDIT = "edit", "Edit"
    DELETE = "delete", "Delete"
    REACTION = "reaction", "Reaction"


@data_class(
    DataClass.CRITICAL,
    tenant="thread__workspace",
    append_only=True,
    immutable=True,
    reason="The chat's source of truth: every post, edit, delete and reaction, in seq order.",
)
class MessageEvent(BaseModel):
    # CASCADE so the sanctioned workspace purge can pass; any other delete of a thread
    # with events is refused by the immutability trigger on this table.
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    # The message this event is about; a `text` event starts the message with this id.
    message_id = models.UUIDField()
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(blank=True)  # text and edit
    emoji = models.CharField(max_length=32, blank=True)  # reaction
    removed = models.BooleanField(default=False)  # reaction: True takes it back
    client_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["thread", "seq"]
        verbose_name = "message event"
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "seq"],
                name="msgevent_unique_thread_seq",
                violation_error_message="This sequence number is already used in the thread.",
            ),
            models.UniqueConstraint(
                fields=["thread", "client_id"],
                condition=~Q(client_id=""),
                name="msgevent_unique_thread_client_id",
                violation_error_message="This client_id was already used in the thread.",
            ),
            models.CheckConstraint(
                condition=Q(seq__gte=1),
                name="msgevent_seq_positive",
                violation_error_message="Sequence numbers start at 1.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=EventKind.values),
                name="msgevent_kind_valid",
                violation_error_message="Unknown event kind.",
            ),
        ]
        indexes = [models.Index(fields=["message_id", "seq"], name="msgevent_message_seq")]

    def __str__(self) -> str:
        return f"{self.thread_id}#{self.seq} {self.kind}"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="thread__workspace",
    backup=True,
    reason=(
        "Materialized current-message view, rebuildable exactly from MessageEvent "
        "(manage.py rebuild_views); backed up only to make restores fast. No database "
        "foreign keys: its thread and author are the events', whose keys hold them."
    ),
)
class Message(BaseModel):
    """One row per message: what the events say it looks like now."""

    # id is the message id the events carry (set explicitly, never random here).
    # A projection of MessageEvent, whose own foreign keys hold the thread and the author
    # (PROTECT): the view's rows come from events, so the database checks no foreign key
    # here, and keeps no index the (thread, seq) unique one already serves. A rebuild into
    # an empty view then writes rows and three indexes, with no per-row check at COMMIT.
    # Deleting a thread still deletes its view rows (Django's CASCADE, and the purge
    # deletes children first); a user with messages has events, which PROTECT them.
    thread = models.ForeignKey(
        Thread,
        on_delete=models.CASCADE,
        related_name="messages",
        db_constraint=False,
        db_index=False,
    )
    seq = models.BigIntegerField()  # seq of the text event: the message's place in the thread
    author = models.ForeignKey(
        USER, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)  # no index: nothing reads by it
    body = models.TextField(blank=True)
    client_id = models.CharField(max_length=64, blank=True)
    posted_at = models.DateTimeField()
    edited = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    reactions = models.JSONField(default=dict, blank=True)  # {emoji: [user id, ...] sorted}
    last_event_seq = models.BigIntegerField()

    class Meta:
        ordering = ["thread", "seq"]
        verbose_name = "message"
        # what an incremental backup reads: the rows changed since its parent
        indexes = [models.Index(fields=["updated_at"], name="message_updated_at")]
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "seq"],
                name="message_unique_thread_seq",
                violation_error_message="A message already sits at this seq.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.thread_id}#{self.seq}"


# --- notifications ----------------------------------------------------------------------


class NotificationKind(models.TextChoices):
    COMMENT_MENTION = "comment_mention", "Mentioned in a comment"
    MESSAGE_MENTION = "message_mention", "Mentioned in chat"
    # From the events port (collaboration.notify): what happened to something of yours.
    APPROVAL_REQUESTED = "approval.requested", "Approval requested"
    APPROVAL_DECIDED = "approval.decided", "Approval decided"
    DEPLOYMENT_READY = "deployment.ready", "Deployment ready"
    DEPLOYMENT_FAILED = "deployment.failed", "Deployment failed"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    BACKUP_FAILED = "backup.failed", "Backup failed"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="workspace",
    backup=True,
    reason=(
        "Mention notifications and their read marks: derived from critical comments and "
        "chat events (re-derivable), so losing them loses convenience, not content."
    ),
    cleanup="collaboration.prune_notifications",  # NOTIFICATION_RETENTION_DAYS
)
class Notification(BaseModel):
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="notifications")
    actor = models.ForeignKey(  # null: the system (a worker, the scheduler)
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    link = models.CharField(max_length=500, blank=True)
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    thread = models.ForeignKey(
        Thread, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    message_id = models.UUIDField(null=True, blank=True)
    excerpt = models.CharField(max_length=200, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "notification"
        indexes = [
            models.Index(fields=["recipient", "workspace", "read_at"], name="notification_unread"),
            models.Index(fields=["updated_at"], name="notification_updated_at"),  # deltas
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"


# Private conversations (seed 002 §5: participants only): collaboration/models_private.py.
from .models_private import *  # noqa: E402, F403
from .webhook_models import (  # noqa: E402, F401 - the webhook models live beside
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
