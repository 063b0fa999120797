"""Account API serializers: inputs are validated here, then handed to a service."""

from rest_framework import serializers

from ..models import ApiToken, Invitation, Membership, Role, Team, User


class TokenCreateInput(serializers.Serializer):
    username = serializers.CharField(help_text="Email or handle.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(max_length=100, required=False, default="default")


class TokenOutput(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]


class TokenCreatedOutput(TokenOutput):
    token = serializers.CharField(help_text="Shown once; only its hash is stored.")

    class Meta(TokenOutput.Meta):
        fields = [*TokenOutput.Meta.fields, "token"]


class UserOutput(serializers.ModelSerializer):
    """Another user as a reply shows them: never their email (only `me/` shows one's own)."""

    class Meta:
        model = User
        fields = ["id", "handle", "display_name"]


class TeamInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=64)


class TeamOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "created_at", "role"]

    def get_role(self, team) -> str | None:
        return self.context.get("roles", {}).get(team.pk)


class MemberInput(serializers.Serializer):
    user = serializers.CharField(help_text="User id, email or handle.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberOutput(serializers.ModelSerializer):
    user = UserOutput(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]


class MeOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "handle", "display_name", "status", "is_staff", "created_at"]
        read_only_fields = fields


class InvitationInput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class InvitationOutput(serializers.ModelSerializer):
    invited_by = serializers.CharField(source="invited_by.handle", read_only=True)
    accepted_by = serializers.CharField(
        source="accepted_by.handle", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "status",
            "expires_at",
            "created_at",
            "invited_by",
            "accepted_by",
            "accepted_at",
        ]
        read_only_fields = fields


class InvitationAcceptInput(serializers.Serializer):
    token = serializers.CharField(help_text="The token from the invitation link.")


class TeamRefOutput(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug"]


class InvitationAcceptedOutput(serializers.ModelSerializer):
    team = TeamRefOutput(read_only=True)
    membership = serializers.UUIDField(source="id", read_only=True)

    class Meta:
        model = Membership
        fields = ["membership", "team", "role", "created_at"]
