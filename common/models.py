"""Abstract base model shared by every Holdfast model."""

import uuid

from django.db import models


class BaseModel(models.Model):
    """UUID primary key plus creation and modification timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        get_latest_by = "created_at"
