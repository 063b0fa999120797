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


@register()
def deltas_see_every_change(app_configs, **kwargs):
    """Every workspace model in the backup scope has a field that shows its changes."""
    from durability.services.scope import delta_blind_entries

    return [
        Error(
            f"{entry.key} is in the backup scope but an incremental backup cannot see its "
            "changes: give it an `updated_at` (auto_now) field, history, or declare it "
            "append-only with a `created_at`.",
            obj=entry.key,
            id="durability.E002",
        )
        for entry in delta_blind_entries()
    ]
