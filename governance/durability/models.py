"""Durability models: backups, verification results, the schema-version document."""
