"""The schema-version document (seed 004): what the code declares, what the database holds.

The code declares `APP_VERSION` (bump with every migration that changes the meaning of
stored data) and a views version: `BASE_VIEWS_VERSION` plus every app's
`materialized.VIEWS_VERSION`, so bumping any app's views changes the total. The
database holds one `SchemaVersion` row. Rules: never write when the database's app
version is newer than the code's; in production never read version 0; when the views
versions differ, regenerate the materialized views (`views_rebuild`).
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.db import DatabaseError, transaction

from common.app_list import app_modules
from common.exceptions import Conflict, ServiceError
from durability.models import SchemaVersion

META_VERSION = 1
APP_VERSION = 1
BASE_VIEWS_VERSION = 1


class SchemaUnavailable(ServiceError):
    """Production must not serve data whose version is 0 (seed 004)."""

    status_code = 503
    default_code = "schema_version"


def code_identity() -> str:
    """Who writes: `holdfast:<release>` (the seed's `last_written_by` format)."""
    return f"holdfast:{settings.APP_VERSION}"


def materialized_modules() -> list[str]:
    return app_modules("materialized")


def view_models(modules: list[str] | None = None) -> set[str]:
    """Every model an app's `materialized.rebuild` regenerates (its `VIEW_MODELS`)."""
    modules = materialized_modules() if modules is None else modules
    return {key for m in modules for key in getattr(import_module(m), "VIEW_MODELS", ())}


def code_views_version(modules: list[str] | None = None) -> int:
    modules = materialized_modules() if modules is None else modules
    return BASE_VIEWS_VERSION + sum(
        int(getattr(import_module(m), "VIEWS_VERSION", 0)) for m in modules
    )


def code_document() -> dict:
    """The document this code would write."""
    who = code_identity()
    return {
        "meta_version": META_VERSION,
        "app": {"version": APP_VERSION, "last_migrated_by": who, "last_written_by": who},
        "views": {"version": code_views_version(), "last_migrated_by": who, "last_written_by": who},
    }


def schema_row(using: str = "default") -> SchemaVersion | None:
    return SchemaVersion.objects.using(using).order_by("created_at").first()


def schema_document(using: str = "default") -> dict:
    """The database's document; a database nobody has stamped yet reads as version 0."""
    row = schema_row(using)
    if row is None:
        return SchemaVersion(app_version=0, views_version=0).as_document()
    return row.as_document()


def refusal_reason(using: str = "default") -> tuple[int, str] | None:
    """(HTTP status, one sentence) when this code must not write, else None."""
    try:
        row = schema_row(using)
    except DatabaseError:
        return None  # not migrated yet: `migrate` itself must be able to run
    db_version = row.app_version if row is not None else 0
    if db_version > APP_VERSION:
        return (
            409,
            f"The database holds app schema version {db_version} but this code only knows "
            f"version {APP_VERSION}; writes are refused until newer code is deployed.",
        )
    if getattr(settings, "DJANGO_ENV", "local") == "production" and db_version == 0:
        return (
            503,
            "The database's app schema version is 0 (development data), which production "
            "never serves; run `manage.py migrate_safely` first.",
        )
    return None


def check_writable(using: str = "default") -> None:
    reason = refusal_reason(using)
    if reason is not None:
        status, message = reason
        if status == 503:
            raise SchemaUnavailable(message)
        raise Conflict(message, code="schema_version")


def check_backup_schema(document: dict) -> None:
    """Refuse a backup whose schema is newer than this code (never write a newer version)."""
    version = int(document.get("app", {}).get("version", 0))
    if version > APP_VERSION:
        raise Conflict(
            f"The backup was written at app schema version {version} but this code only "
            f"knows version {APP_VERSION}; restore it with newer code.",
            code="schema_version",
        )
    if getattr(settings, "DJANGO_ENV", "local") == "production" and version == 0:
        raise Conflict(
            "The backup is at app schema version 0 (development data), which production "
            "never reads.",
            code="schema_version",
        )


@transaction.atomic
def schema_stamp(*, migrated: bool = False, views: bool = False) -> SchemaVersion:
    """Record that this code migrated and/or wrote the data (never lowers a version)."""
    row = SchemaVersion.objects.select_for_update().order_by("created_at").first()
    if row is None:
        row = SchemaVersion(app_version=0, views_version=0)
    who = code_identity()
    if row.app_version > APP_VERSION:
        raise Conflict(
            f"The database is at app schema version {row.app_version}, newer than this "
            f"code's {APP_VERSION}; refusing to stamp it.",
            code="schema_version",
        )
    row.meta_version = META_VERSION
    if migrated:
        row.app_version = APP_VERSION
        row.app_last_migrated_by = who
    row.app_last_written_by = who
    if views:
        row.views_version = code_views_version()
        row.views_last_migrated_by = who
        row.views_last_written_by = who
    row.save()
    return row


def views_rebuild(*, workspace=None, modules: list[str] | None = None) -> dict[str, int]:
    """Regenerate every app's materialized views (`<app>.materialized.rebuild`)."""
    modules = materialized_modules() if modules is None else modules
    done = {}
    for name in modules:
        done[name] = int(import_module(name).rebuild(workspace=workspace) or 0)
    return done


def views_sync(*, modules: list[str] | None = None) -> dict[str, int] | None:
    """Rebuild the views when the database's views version differs from the code's."""
    row = schema_row()
    wanted = code_views_version(modules)
    if row is not None and row.views_version == wanted:
        return None
    done = views_rebuild(modules=modules)
    with transaction.atomic():
        row = SchemaVersion.objects.select_for_update().order_by("created_at").first()
        if row is None:
            row = SchemaVersion(app_version=0)
        who = code_identity()
        row.views_version = wanted
        row.views_last_migrated_by = who
        row.views_last_written_by = who
        row.save()
    return done
