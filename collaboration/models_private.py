"""Private conversations (seed 002 §5 "conversation participants only").

A thread with participant rows is private: only its participants read it, its messages
and its events (everyone else in the workspace gets 404, like a stranger). Direct
messages are private threads of two. The messages stay on the same append-only
MessageEvent log and materialized Message view as every other thread. Written only by
collaboration.private.
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import DataClass, data_class

__all__ = ["ThreadParticipant"]


@data_class(
    DataClass.CRITICAL,
    tenant="thread__workspace",
    reason="Who may read a private thread; losing a row would hide a conversation from its "
    "participant or, worse, make a private thread public.",
)
class ThreadParticipant(BaseModel):
    thread = models.ForeignKey(
        "collaboration.Thread", on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["thread", "created_at"]
        verbose_name = "thread participant"
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "user"],
                name="threadparticipant_unique",
                violation_error_message="This user already takes part in the thread.",
            )
        ]
        indexes = [models.Index(fields=["user", "thread"], name="threadparticipant_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.thread_id}"
