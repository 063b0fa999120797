"""The tenant (Workspace) and its projects."""

from django.db import models
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import SELF, DataClass, data_class


@data_class(
    DataClass.CRITICAL,
    tenant=SELF,
    reason="The tenant: everything a team builds hangs off its workspace.",
)
class Workspace(BaseModel):
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="workspaces")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = "workspace"

    def __str__(self) -> str:
        return self.slug


class ProjectStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


@data_class(
    DataClass.CRITICAL,
    tenant="workspace",
    reason="Projects (apps, sites, manuscripts) are what a team ships.",
)
class Project(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = "project"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "slug"],
                name="project_unique_workspace_slug",
                violation_error_message="A project with this slug already exists here.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}/{self.slug}"
