"""Identity: users, teams, memberships with roles, capabilities, API tokens."""

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import GLOBAL, DataClass, data_class

handle_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{1,38}$",
    "A handle is 2–39 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
)


class UserStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    BANNED = "banned", "Banned"


class AgeLayer(models.TextChoices):
    """Seed 002 §1. Minors get the safer defaults (not discoverable, no DMs from non-friends)."""

    MINOR = "minor", "Minor"
    TRANSITIONAL = "transitional", "Transitional"
    ADULT = "adult", "Adult"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, handle, password=None, **extra):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), handle=handle, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, handle, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, handle, password, **extra)


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="Accounts and identity: losing a user locks them out of everything they own.",
)
class User(BaseModel, AbstractBaseUser, PermissionsMixin):
    """A person. Never hard-deleted: suspend or ban instead (history keeps pointing at them)."""

    email = models.EmailField(unique=True)
    handle = models.CharField(max_length=39, unique=True, validators=[handle_validator])
    display_name = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    # Changed only through accounts.identity (each change appends an IdentityEvent).
    age_layer = models.CharField(max_length=16, choices=AgeLayer.choices, default=AgeLayer.ADULT)
    verified_at = models.DateTimeField(null=True, blank=True)
    is_staff = models.BooleanField(default=False)

    history = HistoricalRecords(
        excluded_fields=["password", "last_login"], m2m_fields=["groups", "user_permissions"]
    )
    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["handle"]

    class Meta:
        ordering = ["handle"]
        verbose_name = "user"
        indexes = [
            models.Index(fields=["status"], name="user_status"),
            models.Index(fields=["age_layer"], name="user_age_layer"),
        ]

    def __str__(self) -> str:
        return f"@{self.handle}"

    @property
    def is_active(self) -> bool:  # read by Django's auth backends and the admin
        return self.status == UserStatus.ACTIVE

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._saved_handle = instance.__dict__.get("handle")
        return instance

    def save(self, *args, **kwargs):
        saved = getattr(self, "_saved_handle", None)
        if saved is not None and self.handle != saved:
            from common.exceptions import ValidationFailed

            raise ValidationFailed("A handle cannot change after creation.", field="handle")
        super().save(*args, **kwargs)
        self._saved_handle = self.handle


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="Teams own workspaces and plans; losing one orphans its workspaces.",
)
class Team(BaseModel):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, unique=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = "team"

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


def role_at_least(role: str | None, minimum: str) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(minimum)]


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="Who may reach a team's workspaces and with which role.",
)
class Membership(BaseModel):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    history = HistoricalRecords()

    class Meta:
        ordering = ["team", "user"]
        verbose_name = "membership"
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"],
                name="membership_unique_team_user",
                violation_error_message="This user is already a member of the team.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class CapabilityName(models.TextChoices):
    CREATE_PROJECTS = "create_projects", "Create projects"
    DEPLOY = "deploy", "Deploy"
    MODERATE = "moderate", "Moderate"
    USE_AI = "use_ai", "Use AI features"
    CHAT = "chat", "Chat"


# Held by every active user unless an operator revokes them for that user (a denial row);
# everything else (`moderate`) is held only with an explicit grant row. See docs/safety.md.
DEFAULT_CAPABILITIES = frozenset(
    {
        CapabilityName.CREATE_PROJECTS,
        CapabilityName.DEPLOY,
        CapabilityName.USE_AI,
        CapabilityName.CHAT,
    }
)


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="Per-user capability grants (seed 002); decide what a user may do.",
)
class Capability(BaseModel):
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="capabilities")
    capability = models.CharField(max_length=32, choices=CapabilityName.choices)
    denied = models.BooleanField(
        default=False,
        help_text="A denial: the user does not hold this default capability (revoked).",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["user", "capability"]
        verbose_name = "capability"
        verbose_name_plural = "capabilities"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "capability"],
                name="capability_unique_user_capability",
                violation_error_message="The user already has this capability.",
            )
        ]

    def __str__(self) -> str:
        state = " (denied)" if self.denied else ""
        return f"{self.user}: {self.capability}{state}"

    def clean(self) -> None:
        super().clean()
        if self.denied and self.capability not in DEFAULT_CAPABILITIES:
            raise ValidationError(
                {"denied": "Only a default capability can be denied; revoke a grant instead."}
            )


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="API tokens (hashed); losing them breaks every integration at once.",
)
class ApiToken(BaseModel):
    """A named API token. Only the sha256 of the secret is stored."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["key_hash", "last_used_at"])

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.user}"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


def invitation_expiry():
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    return timezone.now() + timedelta(seconds=settings.INVITATION_TTL_SECONDS)


@data_class(
    DataClass.CRITICAL,
    tenant=GLOBAL,
    reason="Invitations to a team (seed 001 collaborators): who was asked in, with which "
    "role, by whom; the token is stored only as its sha256.",
)
class Invitation(BaseModel):
    """An email address asked to join a team with a role; accepted once, by token."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(
        max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(default=invitation_expiry)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    accepted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["token_hash"])

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "invitation"
        indexes = [models.Index(fields=["team", "status"], name="invitation_team_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "email"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_email",
                violation_error_message="This address already has a pending invitation.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} as {self.role} ({self.status})"


# Identity events, social graph edges, moderation and risk profiles (seed 002 §1, §3, §7).
from .models_safety import *  # noqa: E402, F403
