"""`GET /api/v1/me/discovery/`: the caller's collaborator suggestions (not a workspace route)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import discovery


class DiscoveredUser(serializers.Serializer):
    id = serializers.UUIDField()
    handle = serializers.CharField()
    display_name = serializers.CharField()


class DiscoveryResult(serializers.Serializer):
    user = DiscoveredUser()
    score = serializers.FloatField()
    explanation = serializers.CharField()


class DiscoveryOutput(serializers.Serializer):
    results = DiscoveryResult(many=True)
    generated_at = serializers.DateTimeField()


class DiscoveryView(APIView):
    """Ranked suggestions with an explanation each; cached 5 minutes, never stored."""

    @extend_schema(responses={200: DiscoveryOutput})
    def get(self, request):
        return Response(DiscoveryOutput(discovery.discovery_get(request.user)).data)
