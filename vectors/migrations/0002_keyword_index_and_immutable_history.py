"""Keyword search (SQLite FTS5 table / PostgreSQL GIN full-text index) and immutable
citation history."""

from django.db import migrations

from governance.immutability import immutable_tables


def keyword_forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS vectors_chunk_fts USING fts5("
            "chunk_id UNINDEXED, namespace UNINDEXED, text, tokenize='porter unicode61')"
        )
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS vectors_chunk_tsv_idx ON vectors_chunk "
            "USING gin (to_tsvector('english', text))"
        )
        # pgvector where the server has it (the HNSW backend switches on by itself).
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
            if cursor.fetchone() is not None:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
                from vectors.pgvector import TABLE_SQL

                for sql in TABLE_SQL:
                    cursor.execute(sql)


def keyword_backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS vectors_chunk_fts")
    elif vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS vectors_chunk_tsv_idx")
        schema_editor.execute("DROP TABLE IF EXISTS vectors_hnsw")


class Migration(migrations.Migration):
    dependencies = [("vectors", "0001_initial"), ("governance", "0001_initial")]
    operations = [
        migrations.RunPython(keyword_forwards, keyword_backwards),
        immutable_tables("vectors_historicalcitation"),
    ]
