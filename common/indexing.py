"""The indexing port: lower apps announce new content without importing `vectors`.

Project files (workspaces) and artifact versions (deployments) are indexed for search by
`vectors`, a peer or higher app. They call `file_uploaded(file_id)` or
`artifact_version_created(artifact_id)` after their write; `VectorsConfig.ready()` registers
the handlers, which enqueue the ingestion on commit. With no handler registered the calls
do nothing: indexing is derived data and can be rebuilt (`manage.py reindex`).

The rebuild needs to list what was announced: `DeploymentsConfig.ready()` registers an
artifact source, and `artifact_versions(project_id)` returns every artifact version of a
project as dicts of `id` + ARTIFACT_FIELDS (empty when no source is registered).
"""

from collections.abc import Callable

Handler = Callable[..., None]

# What an artifact version's announcement carries (attribute names of the artifact row).
ARTIFACT_FIELDS = ("project_id", "kind", "logical_key", "version", "blob_path", "content_type")

_handlers: dict[str, Handler] = {}
_artifact_source: Callable[[str], list[dict]] | None = None


def register(event: str, handler: Handler) -> None:
    """Install the handler of `event` ("file_uploaded" | "artifact_version_created")."""
    _handlers[event] = handler


def _emit(event: str, object_id, **payload) -> None:
    handler = _handlers.get(event)
    if handler is not None:
        handler(str(object_id), **payload)


def file_uploaded(file_id) -> None:
    _emit("file_uploaded", file_id)


def index_artifact_version(artifact_id, **payload) -> None:
    """`payload`: project_id, kind, logical_key, version, blob_path, content_type."""
    _emit("artifact_version_created", artifact_id, **payload)


def register_artifact_source(source: Callable[[str], list[dict]]) -> None:
    """Install `source(project_id) -> [{"id", *ARTIFACT_FIELDS}]`, every artifact version."""
    global _artifact_source
    _artifact_source = source


def artifact_versions(project_id) -> list[dict]:
    """Every artifact version of the project, oldest first (for `manage.py reindex`)."""
    if _artifact_source is None:
        return []
    return _artifact_source(str(project_id))
