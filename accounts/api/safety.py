"""Safety and social API (seed 002): edges and graph projections, capabilities, moderation.

Not workspace routes: `/api/v1/me/…` is the caller's own graph; moderation and capability
grants are instance-wide (the `moderate` capability, or staff, or 403).
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from common.exceptions import NotFound, ValidationFailed

from .. import graph, identity, moderation, selectors, services
from ..models import (
    AgeLayer,
    CapabilityName,
    EdgeType,
    ModerationAction,
    ModerationType,
    RiskLevel,
    User,
)

# --- serializers ----------------------------------------------------------------------------


class UserRef(serializers.Serializer):
    id = serializers.UUIDField()
    handle = serializers.CharField()
    display_name = serializers.CharField()


class EdgeInput(serializers.Serializer):
    to = serializers.CharField(help_text="User id, email or handle.")
    type = serializers.ChoiceField(choices=EdgeType.choices)


class EdgeOutput(serializers.Serializer):
    to = UserRef()
    type = serializers.ChoiceField(choices=EdgeType.choices)
    state = serializers.ChoiceField(choices=["requested", "friends", "following", "blocking"])


class GraphCounts(serializers.Serializer):
    friends = serializers.IntegerField()
    followers = serializers.IntegerField()
    following = serializers.IntegerField()
    blocks = serializers.IntegerField()


class GraphOutput(serializers.Serializer):
    friends = UserRef(many=True)
    followers = UserRef(many=True)
    following = UserRef(many=True)
    blocks = UserRef(many=True)
    requests_sent = UserRef(many=True)
    requests_received = UserRef(many=True)
    counts = GraphCounts()
    trust_score = serializers.FloatField()
    updated_at = serializers.DateTimeField()


class CapabilityInput(serializers.Serializer):
    user = serializers.CharField(help_text="User id, email or handle.")
    capability = serializers.ChoiceField(choices=CapabilityName.choices)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CapabilityOutput(serializers.Serializer):
    user = serializers.UUIDField(source="user_id")
    capability = serializers.CharField()
    denied = serializers.BooleanField(
        help_text="True: a default capability revoked for this user (a denial)."
    )
    granted_at = serializers.DateTimeField(source="created_at")


class ModerationInput(serializers.Serializer):
    user = serializers.CharField(help_text="User id, email or handle.")
    type = serializers.ChoiceField(choices=ModerationType.choices)
    reason = serializers.CharField(max_length=5000)
    reversible = serializers.BooleanField(required=False, default=True)


class ModerationOutput(serializers.ModelSerializer):
    user = serializers.UUIDField(source="user_id")
    created_by = serializers.UUIDField(source="created_by_id", allow_null=True)

    class Meta:
        model = ModerationAction
        fields = ["id", "user", "type", "reason", "reversible", "created_at", "created_by"]
        read_only_fields = fields


class RiskProfileInput(serializers.Serializer):
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    signals = serializers.ListField(child=serializers.JSONField(), allow_empty=True)
    reason = serializers.CharField(max_length=500)


class RiskProfileOutput(serializers.Serializer):
    user = serializers.UUIDField()
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    signals = serializers.ListField(child=serializers.JSONField())
    updated_at = serializers.DateTimeField()


class AgeLayerInput(serializers.Serializer):
    user = serializers.CharField(help_text="User id, email or handle.")
    age_layer = serializers.ChoiceField(choices=AgeLayer.choices)
    reason = serializers.CharField(max_length=500)


def _user_or_400(identifier: str, field: str) -> User:
    user = selectors.user_find(identifier=identifier)
    if user is None:
        raise ValidationFailed("No user with this id, email or handle.", field=field)
    return user


def _refs(ids) -> list[dict]:
    users = {
        str(u["id"]): u
        for u in User.objects.filter(pk__in=list(ids)).values("id", "handle", "display_name")
    }
    return [users[i] for i in ids if i in users]


def projection_payload(projection: dict) -> dict:
    """The projection as the API shows it: people as refs, never who blocks the caller."""
    lists = ["friends", "followers", "following", "blocks", "requests_sent", "requests_received"]
    wanted = {i for name in lists for i in projection[name]}
    users = {str(u["id"]): u for u in _refs(sorted(wanted))}
    out = {name: [users[i] for i in projection[name] if i in users] for name in lists}
    out["counts"] = projection["counts"]
    out["trust_score"] = projection["trust_score"]
    out["updated_at"] = projection["updated_at"]
    return out


# --- views ---------------------------------------------------------------------------------


class EdgeCreateView(APIView):
    """`POST /api/v1/me/edges/ {to, type}`: friend request/accept, follow, or block."""

    @extend_schema(request=EdgeInput, responses={201: EdgeOutput, 200: EdgeOutput})
    def post(self, request):
        data = EdgeInput(data=request.data)
        data.is_valid(raise_exception=True)
        to = selectors.user_find(identifier=data.validated_data["to"])
        if to is None:
            raise ValidationFailed("No such user.", field="to")
        edge, created = graph.edge_create(
            actor=request.user, to=to, type=data.validated_data["type"]
        )
        body = {
            "to": {"id": to.pk, "handle": to.handle, "display_name": to.display_name},
            "type": edge.type,
            "state": graph.relation_state(actor=request.user, to=to, type=edge.type),
        }
        return Response(
            EdgeOutput(body).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class EdgeDeleteView(APIView):
    """`DELETE /api/v1/me/edges/{type}/{user_id}/`: unfollow, unblock, unfriend or decline."""

    @extend_schema(responses={204: None})
    def delete(self, request, type, user_id):
        graph.edge_delete(actor=request.user, to_id=user_id, type=type)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GraphView(APIView):
    """`GET /api/v1/me/graph/`: the caller's cached projection (raw edges are never listed)."""

    @extend_schema(responses={200: GraphOutput})
    def get(self, request):
        return Response(GraphOutput(projection_payload(graph.projection_get(request.user.pk))).data)


class MyCapabilitiesView(APIView):
    @extend_schema(responses={200: CapabilityOutput(many=True)})
    def get(self, request):
        return Response(
            CapabilityOutput(selectors.capability_list(user=request.user), many=True).data
        )


class CapabilityGrantView(APIView):
    """`POST /api/v1/capabilities/ {user, capability, reason?}`: staff only (403)."""

    @extend_schema(request=CapabilityInput, responses={201: CapabilityOutput})
    def post(self, request):
        services.capability_check_granter(actor=request.user)
        data = CapabilityInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = _user_or_400(data.validated_data["user"], "user")
        cap = services.capability_grant(
            user=user,
            capability=data.validated_data["capability"],
            actor=request.user,
            reason=data.validated_data["reason"],
        )
        return Response(CapabilityOutput(cap).data, status=status.HTTP_201_CREATED)


class CapabilityRevokeView(APIView):
    """`DELETE /api/v1/capabilities/{user_id}/{capability}/`: staff only (403)."""

    @extend_schema(responses={204: None})
    def delete(self, request, user_id, capability):
        services.capability_check_granter(actor=request.user)
        user = User.objects.filter(pk=user_id).first()
        if user is None or not services.capability_revoke(
            user=user, capability=capability, actor=request.user
        ):
            raise NotFound("This user does not hold this capability.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModerationActionView(GenericAPIView):
    """`POST /api/v1/moderation/actions/ {user, type, reason, reversible?}`; `GET` lists the
    log (`?user=` filters). Holders of the `moderate` capability only; everyone else 403."""

    serializer_class = ModerationOutput
    queryset = ModerationAction.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("user", str, required=False)],
        responses={200: ModerationOutput(many=True)},
    )
    def get(self, request):
        selectors.capability_require(user=request.user, capability=CapabilityName.MODERATE)
        qs = ModerationAction.objects.order_by("-created_at", "-id")
        if request.query_params.get("user"):
            qs = qs.filter(user=_user_or_400(request.query_params["user"], "user"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ModerationOutput(page, many=True).data)

    @extend_schema(request=ModerationInput, responses={201: ModerationOutput})
    def post(self, request):
        selectors.capability_require(user=request.user, capability=CapabilityName.MODERATE)
        data = ModerationInput(data=request.data)
        data.is_valid(raise_exception=True)
        action = moderation.moderation_action_create(
            actor=request.user,
            user=_user_or_400(data.validated_data["user"], "user"),
            type=data.validated_data["type"],
            reason=data.validated_data["reason"],
            reversible=data.validated_data["reversible"],
        )
        return Response(ModerationOutput(action).data, status=status.HTTP_201_CREATED)


class RiskProfileView(APIView):
    """`GET`/`PUT /api/v1/moderation/risk-profiles/{user_id}/`: moderators only; each read
    is audited; the signals are decrypted here and nowhere else."""

    def _user(self, user_id) -> User:
        selectors.capability_require(user=self.request.user, capability=CapabilityName.MODERATE)
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound("No such user.")
        return user

    @extend_schema(responses={200: RiskProfileOutput})
    def get(self, request, user_id):
        user = self._user(user_id)
        return Response(
            RiskProfileOutput(moderation.risk_profile_read(actor=request.user, user=user)).data
        )

    @extend_schema(request=RiskProfileInput, responses={200: RiskProfileOutput})
    def put(self, request, user_id):
        user = self._user(user_id)
        data = RiskProfileInput(data=request.data)
        data.is_valid(raise_exception=True)
        profile = moderation.risk_profile_set(actor=request.user, user=user, **data.validated_data)
        return Response(
            {
                "user": str(user.pk),
                "risk_level": profile.risk_level,
                "signals": data.validated_data["signals"],
                "updated_at": profile.updated_at,
            }
        )


class AgeLayerView(APIView):
    """`POST /api/v1/moderation/age-layer/ {user, age_layer, reason}`: moderators only."""

    @extend_schema(
        request=AgeLayerInput,
        responses={
            200: inline_serializer(
                "AgeLayerOutput",
                {"user": serializers.UUIDField(), "age_layer": serializers.CharField()},
            )
        },
    )
    def post(self, request):
        selectors.capability_require(user=request.user, capability=CapabilityName.MODERATE)
        data = AgeLayerInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = identity.user_set_age_layer(
            user=_user_or_400(data.validated_data["user"], "user"),
            age_layer=data.validated_data["age_layer"],
            actor=request.user,
            reason=data.validated_data["reason"],
        )
        return Response({"user": str(user.pk), "age_layer": user.age_layer})
