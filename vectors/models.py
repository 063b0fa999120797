"""Knowledge index: chunks in namespaces, their embeddings, citations, and the recall audit.

Namespaces follow seed 003: `project:{id}:chunks` (uploaded file chunks),
`project:{id}:artifacts` (artifact versions) and `project:{id}:repo:{repoId}` (code).
Chunks and embeddings are derived data, rebuilt from the files and artifacts by
`manage.py reindex`; citations are what people and agents wrote, so they are critical.
"""

from django.db import models
from simple_history.models import HistoricalRecords

from common.models import BaseModel
from governance.registry import DataClass, data_class, register_store


class ChunkType(models.TextChoices):
    CHUNK = "chunk", "File chunk"
    ARTIFACT = "artifact", "Artifact"
    CODE = "code", "Code"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="project__workspace",
    reason="A vector namespace: its model, dimension and write generation; rebuilt by reindex.",
    backup=False,
)
class Namespace(BaseModel):
    """`project:{id}:chunks` and friends. One model and dimension per namespace; `generation`
    moves on every write so each process knows when its cached matrix is stale."""

    project = models.ForeignKey("workspaces.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, unique=True)
    model = models.CharField(max_length=200)
    dimension = models.PositiveIntegerField()
    generation = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = "namespace"

    def __str__(self) -> str:
        return self.name


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="project__workspace",
    reason="Text passages of files, artifacts and code; rebuilt from them by manage.py reindex.",
    backup=False,
)
class Chunk(BaseModel):
    """One passage in a namespace, with seed 003's metadata (fileId, pageStart, ...)."""

    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="chunks"
    )
    namespace = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=ChunkType.choices, default=ChunkType.CHUNK)
    file = models.ForeignKey(
        "workspaces.ProjectFile",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="chunks",
    )
    # The artifact, repo or other source row this chunk came from (by id, not a foreign key:
    # deployments is a peer app).
    source_id = models.UUIDField(null=True, blank=True)
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    page_start = models.PositiveIntegerField(null=True, blank=True)
    page_end = models.PositiveIntegerField(null=True, blank=True)
    char_start = models.PositiveIntegerField(default=0)
    char_end = models.PositiveIntegerField(default=0)
    source_sha256 = models.CharField(max_length=64)
    extraction_version = models.PositiveIntegerField()
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["namespace", "file", "ordinal"]
        verbose_name = "chunk"
        indexes = [
            models.Index(fields=["project", "file"], name="file_chunk_project_file_idx"),
            models.Index(fields=["namespace", "ordinal"], name="chunk_namespace_idx"),
            models.Index(fields=["source_id"], name="chunk_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}#{self.ordinal}"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="project__workspace",
    reason="One float32 vector per chunk with its model and dimension; re-embedded by reindex.",
    backup=False,
)
class Embedding(models.Model):
    """A chunk's vector (float32 little-endian blob) and the model that made it."""

    chunk = models.OneToOneField(
        Chunk, primary_key=True, on_delete=models.CASCADE, related_name="embedding"
    )
    project = models.ForeignKey("workspaces.Project", on_delete=models.CASCADE, related_name="+")
    namespace = models.CharField(max_length=200)
    model = models.CharField(max_length=200)
    dimension = models.PositiveIntegerField()
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["namespace"]
        verbose_name = "embedding"
        indexes = [models.Index(fields=["namespace", "dimension"], name="embedding_ns_dim_idx")]

    def __str__(self) -> str:
        return f"{self.namespace} {self.model}/{self.dimension}"


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="project__workspace",
    reason="Which commit of a repository its code namespace holds, and the files skipped.",
    backup=False,
)
class RepoIndex(BaseModel):
    """The state of one `project:{id}:repo:{repoId}` namespace: the commit indexed, at which
    extraction version, and the files left out with why (binary, too large, not UTF-8)."""

    project = models.ForeignKey("workspaces.Project", on_delete=models.CASCADE, related_name="+")
    # deployments.Repo by id (a peer app: no foreign key)
    repo_id = models.UUIDField(unique=True)
    namespace = models.CharField(max_length=200)
    commit_sha = models.CharField(max_length=64, blank=True)
    extraction_version = models.PositiveIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0)
    # path -> {"sha": blob sha, "reason": one sentence}
    skipped = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["namespace"]
        verbose_name = "repository index"
        verbose_name_plural = "repository indexes"

    def __str__(self) -> str:
        return f"{self.namespace} at {self.commit_sha[:12] or 'nothing'}"


class CitationSource(models.TextChoices):
    ARTIFACT = "artifact", "Artifact"
    MESSAGE = "message", "Chat message"


@data_class(
    DataClass.CRITICAL,
    tenant="project__workspace",
    reason="Which chunks an artifact or chat message rests on, with the quoted span.",
)
class Citation(BaseModel):
    project = models.ForeignKey(
        "workspaces.Project", on_delete=models.CASCADE, related_name="citations"
    )
    source_kind = models.CharField(max_length=16, choices=CitationSource.choices)
    source_id = models.UUIDField()
    file = models.ForeignKey(
        "workspaces.ProjectFile", on_delete=models.PROTECT, related_name="citations"
    )
    # Chunk ids are stable across reindexing at one extraction version, but chunks are
    # derived data: the citation keeps the file, pages and quote itself.
    chunk_id = models.UUIDField(null=True, blank=True)
    quote = models.TextField()
    page_start = models.PositiveIntegerField(null=True, blank=True)
    page_end = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        verbose_name = "citation"
        indexes = [
            models.Index(fields=["project", "source_kind", "source_id"], name="citation_source_idx")
        ]

    def __str__(self) -> str:
        return f"{self.source_kind}:{self.source_id} → {self.file_id}"


@data_class(
    DataClass.EPHEMERAL,
    tenant="project__workspace",
    reason="Recent search queries, sampled by the recall audit; pruned after 30 days.",
    cleanup="vectors.recall_audit",
)
class SearchQueryLog(BaseModel):
    project = models.ForeignKey("workspaces.Project", on_delete=models.CASCADE, related_name="+")
    namespace = models.CharField(max_length=200)
    query = models.TextField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "search query"

    def __str__(self) -> str:
        return self.query[:60]


@data_class(
    DataClass.SEMI_CRITICAL,
    tenant="project__workspace",
    reason="Measured recall@k of the vector index against the exact scan, per namespace.",
)
class RecallAudit(BaseModel):
    project = models.ForeignKey("workspaces.Project", on_delete=models.CASCADE, related_name="+")
    namespace = models.CharField(max_length=200)
    backend = models.CharField(max_length=32)
    k = models.PositiveIntegerField()
    queries = models.PositiveIntegerField()
    recall = models.FloatField()
    short_results = models.PositiveIntegerField(default=0)
    threshold = models.FloatField()
    flagged = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "recall audit"
        indexes = [models.Index(fields=["namespace", "-created_at"], name="recall_audit_ns_idx")]

    def __str__(self) -> str:
        return f"{self.namespace} recall@{self.k}={self.recall:.3f}"


register_store(
    "vectors.keyword_index",
    DataClass.EPHEMERAL,
    storage="table vectors_chunk_fts (SQLite FTS5) / index vectors_chunk_tsv_idx (PostgreSQL)",
    tenant="project__workspace",
    reason="Full-text index of chunk text, kept with the chunks; rebuilt by manage.py reindex.",
    cleanup="reindex",
)
register_store(
    "vectors.hnsw",
    DataClass.EPHEMERAL,
    storage="table vectors_hnsw (pgvector HNSW, only where the extension exists)",
    tenant="project__workspace",
    reason="The pgvector copy of the embeddings with its HNSW index; rebuilt by manage.py reindex.",
    cleanup="reindex",
)
