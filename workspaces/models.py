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
    # Seed 003's owner_user_id: the creator by default. Nullable for projects made before it.
    owner = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = "project"
        indexes = [models.Index(fields=["owner", "updated_at"], name="project_owner_updated_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "slug"],
                name="project_unique_workspace_slug",
                violation_error_message="A project with this slug already exists here.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}/{self.slug}"


class FileStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    EXTRACTED = "extracted", "Extracted"
    FAILED = "failed", "Failed"


@data_class(
    DataClass.CRITICAL,
    tenant="project__workspace",
    reason="Files a team uploads to a project: the source its knowledge chunks are rebuilt from.",
)
class ProjectFile(BaseModel):
    """One uploaded file: its bytes live in default storage under the workspace prefix."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    sha256 = models.CharField(max_length=64)
    blob_path = models.CharField(max_length=500, unique=True)
    uploaded_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=FileStatus.choices, default=FileStatus.PENDING)
    failure_reason = models.CharField(max_length=500, blank=True)
    # The extractor version whose chunks are stored (0: never extracted).
    extraction_version = models.PositiveIntegerField(default=0)
    page_count = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "project file"
        indexes = [models.Index(fields=["project"], name="project_file_project_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "sha256"],
                name="project_file_unique_sha256",
                violation_error_message="This project already has a file with these bytes.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


@data_class(
    DataClass.CRITICAL,
    tenant="project__workspace",
    reason="Project-scoped agent skills (SKILL.md overrides) a team writes by hand.",
)
class ProjectSkill(BaseModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="skills")
    name = models.CharField(max_length=120)
    name_norm = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    content = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name_norm"]
        verbose_name = "project skill"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name_norm"],
                name="project_skill_unique_name_norm",
                violation_error_message="This project already has a skill with this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name
