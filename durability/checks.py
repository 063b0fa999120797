"""System checks for the schema-version document."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from durability import versions


@register(Tags.database)
def production_schema_version(app_configs, databases=None, **kwargs):
    """In production the schema-version document must exist, be past 0 and not be newer."""
    if getattr(settings, "DJANGO_ENV", "local") != "production" or not databases:
        return []
    reason = versions.refusal_reason()
    if reason is None:
        return []
    return [Error(reason[1], id="durability.E001")]
