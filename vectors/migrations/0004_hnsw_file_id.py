"""pgvector table: the chunk's file id as a column, with a covering index for the exact scan
of a file filter (see vectors.pgvector). A no-op where the table does not exist."""

from django.db import migrations

# Written out (not imported from vectors.pgvector) so the migration stays what it was.
TABLE = "vectors_hnsw"
FILE_INDEX = "vectors_hnsw_file_idx"
FILE_INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {FILE_INDEX} ON {TABLE} (namespace, file_id) "
    "INCLUDE (dimension, chunk_id, embedding) WHERE file_id IS NOT NULL"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [TABLE])
        if cursor.fetchone()[0] is None:
            return
        cursor.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS file_id uuid")
        cursor.execute(
            f"UPDATE {TABLE} SET file_id = (metadata ->> 'fileId')::uuid "  # noqa: S608
            "WHERE file_id IS NULL AND metadata ? 'fileId'"
        )
        cursor.execute(FILE_INDEX_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {FILE_INDEX}")
        cursor.execute(f"ALTER TABLE IF EXISTS {TABLE} DROP COLUMN IF EXISTS file_id")


class Migration(migrations.Migration):
    dependencies = [("vectors", "0003_repo_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
