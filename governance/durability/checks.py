from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.database)
def production_schema_version(app_configs, databases=None, **kwargs):
    """In production the schema-version document must exist and be past version 0."""
    if getattr(settings, "DJANGO_ENV", "local") != "production" or not databases:
        return []
    from django.db.utils import DatabaseError

    from governance.durability.models import SchemaVersion

    try:
        doc = SchemaVersion.objects.order_by("created_at").first()
    except DatabaseError:
        return []  # not migrated yet; migrate_safely records the version
    if doc is None or doc.app_version == 0:
        return [
            Error(
                "The schema version is 0; run `manage.py migrate_safely` before serving.",
                id="durability.E001",
            )
        ]
    return []
