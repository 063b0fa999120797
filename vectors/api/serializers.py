"""Search, citation and recall-audit serializers."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Citation, CitationSource, RecallAudit
from ..store import FILTER_KEYS, NAMESPACE_KINDS


@extend_schema_field(
    {
        "type": "object",
        "description": "Metadata to match: `{key: value | [values]}`. The keys a namespace "
        "filters on: " + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in FILTER_KEYS.items()),
        "properties": {key: {} for keys in FILTER_KEYS.values() for key in sorted(keys)},
        "additionalProperties": False,
    }
)
class MetadataFilterField(serializers.DictField):
    pass


class SearchInput(serializers.Serializer):
    query = serializers.CharField(max_length=2000)
    namespace = serializers.ChoiceField(choices=NAMESPACE_KINDS, default="chunks")
    repo = serializers.UUIDField(required=False, allow_null=True, default=None)
    k = serializers.IntegerField(min_value=1, max_value=100, default=10)
    filter = MetadataFilterField(required=False, default=dict)
    mode = serializers.ChoiceField(choices=["hybrid", "vector", "keyword"], default="hybrid")


class SearchQueryInput(SearchInput):
    """`GET …/search/`: the same search from query parameters, without `filter`. The query
    is shorter than POST's so the whole URL fits a server's request line (4 KB: 300
    characters take at most 3,600 bytes percent-encoded); longer queries go by POST."""

    query = serializers.CharField(max_length=300, required=False, allow_blank=True)
    filter = None


class SearchResult(serializers.Serializer):
    id = serializers.UUIDField()
    score = serializers.FloatField()
    type = serializers.CharField()
    text = serializers.CharField()
    metadata = serializers.DictField()


class SearchOutput(serializers.Serializer):
    results = SearchResult(many=True)


class CitationInput(serializers.Serializer):
    source_kind = serializers.ChoiceField(choices=CitationSource.choices)
    source_id = serializers.UUIDField(help_text="The artifact's or chat message's id.")
    chunk = serializers.UUIDField(required=False, allow_null=True, default=None)
    file = serializers.UUIDField(required=False, allow_null=True, default=None)
    quote = serializers.CharField(max_length=5000)


class CitationFilterInput(serializers.Serializer):
    source_kind = serializers.ChoiceField(choices=CitationSource.choices, required=False)
    source_id = serializers.UUIDField(required=False)


class CitationOutput(serializers.ModelSerializer):
    file = serializers.UUIDField(source="file_id", read_only=True)
    file_name = serializers.CharField(source="file.name", read_only=True)
    chunk = serializers.UUIDField(source="chunk_id", read_only=True, allow_null=True)

    class Meta:
        model = Citation
        fields = [
            "id",
            "source_kind",
            "source_id",
            "file",
            "file_name",
            "chunk",
            "quote",
            "page_start",
            "page_end",
            "created_at",
        ]


class RecallAuditOutput(serializers.ModelSerializer):
    class Meta:
        model = RecallAudit
        fields = [
            "id",
            "namespace",
            "backend",
            "k",
            "queries",
            "recall",
            "short_results",
            "threshold",
            "flagged",
            "created_at",
        ]
