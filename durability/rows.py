"""Streaming rows of one model out of, and into, the database as JSON lines.

One JSON object per row, keyed by column name. PostgreSQL: `COPY (SELECT row_to_json(t)
FROM (<queryset SQL>) t) TO STDOUT` out, and `COPY ... FROM STDIN` into a temporary
one-column table followed by `INSERT ... SELECT ... json_populate_record` in. The CSV
format with quote and delimiter characters that JSON never contains (0x01, 0x02)
makes COPY pass each line through byte for byte. SQLite: keyset pagination on the
primary key out, `executemany` in. Writes bypass `Model.save()` on purpose: a restore
puts back rows exactly as they were (timestamps included) and writes no new history.
Memory stays constant: rows are never all held at once.
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, cast

from django.db import connections

if TYPE_CHECKING:
    from django.db.backends.postgresql.operations import DatabaseOperations as PgOperations

CHUNK = 5000
COPY_CSV = "(FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"


def columns(model) -> list:
    return list(model._meta.concrete_fields)


def _default(value):
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | memoryview):
        return "\\x" + bytes(value).hex()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def encode(row: dict) -> bytes:
    return json.dumps(row, default=_default, separators=(",", ":"), ensure_ascii=False).encode()


def export(queryset, *, using: str, write: Callable[[bytes], None]) -> int:
    """Write `queryset`'s rows as JSON lines through `write`; returns the row count."""
    model = queryset.model
    fields = columns(model)
    queryset = queryset.using(using)
    if connections[using].vendor == "postgresql":
        return _export_pg(queryset, fields, using, write)
    return _export_chunked(queryset, fields, write)


def _export_pg(queryset, fields, using, write) -> int:
    sql, params = queryset.values_list(*[f.attname for f in fields]).query.sql_with_params()
    connection = connections[using]
    # Parameters are bound client-side (COPY takes none), also under server-side binding.
    ops = cast("PgOperations", connection.ops)  # export() sends only PostgreSQL here
    select = ops.compose_sql(sql, params)
    statement = f"COPY (SELECT row_to_json(t) FROM ({select}) t) TO STDOUT {COPY_CSV}"  # noqa: S608
    count = 0
    buffer = bytearray()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(statement) as copy:
            for data in copy:
                buffer += data
                count += 1
                if len(buffer) >= 1 << 20:
                    write(bytes(buffer))
                    buffer.clear()
    if buffer:
        write(bytes(buffer))
    return count


def _export_chunked(queryset, fields, write) -> int:
    names = [f.column for f in fields]
    attnames = [f.attname for f in fields]
    pk_index = attnames.index(queryset.model._meta.pk.attname)
    queryset = queryset.order_by("pk")
    count, last = 0, None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        chunk = list(page.values_list(*attnames)[:CHUNK])
        if not chunk:
            return count
        write(b"".join(encode(dict(zip(names, row, strict=True))) + b"\n" for row in chunk))
        count += len(chunk)
        last = chunk[-1][pk_index]


def lines(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Split a stream of byte blocks into lines (without the newline)."""
    rest = b""
    for block in blocks:
        data = rest + block
        *complete, rest = data.split(b"\n")
        yield from (line for line in complete if line)
    if rest.strip():
        yield rest


def load(model, blocks: Iterable[bytes], *, using: str, skip_existing: bool) -> int:
    """Insert the JSON-lines rows in `blocks` into `model`'s table; returns the row count.

    `skip_existing` leaves a row whose primary key (or a unique value) already exists as
    it is (ON CONFLICT DO NOTHING / INSERT OR IGNORE); otherwise a conflict is an error.
    """
    if connections[using].vendor == "postgresql":
        return _load_pg(model, blocks, using, skip_existing)
    return _load_chunked(model, blocks, using, skip_existing)


def _load_pg(model, blocks, using, skip_existing) -> int:
    table = connections[using].ops.quote_name(model._meta.db_table)
    conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
    count = 0
    with connections[using].cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS holdfast_restore_rows (j json)")
        cursor.execute("TRUNCATE holdfast_restore_rows")
        with cursor.cursor.copy(f"COPY holdfast_restore_rows (j) FROM STDIN {COPY_CSV}") as copy:
            for block in blocks:
                count += block.count(b"\n")
                copy.write(block)
        cursor.execute(
            f"INSERT INTO {table} SELECT r.* FROM holdfast_restore_rows, "  # noqa: S608
            f"LATERAL json_populate_record(NULL::{table}, j) r{conflict}"
        )
        cursor.execute("TRUNCATE holdfast_restore_rows")
    return count


def _load_chunked(model, blocks, using, skip_existing) -> int:
    connection = connections[using]
    fields = columns(model)
    quote = connection.ops.quote_name
    verb = "INSERT OR IGNORE" if skip_existing else "INSERT"
    sql = (
        f"{verb} INTO {quote(model._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )

    def convert(line: bytes) -> list:
        row = json.loads(line)
        values = []
        for f in fields:
            value = row.get(f.column)
            if value is not None:
                if f.get_internal_type() == "JSONField":
                    value = json.dumps(value, cls=f.encoder, default=_default)
                    values.append(value)
                    continue
                value = f.to_python(value)
            values.append(f.get_db_prep_save(value, connection))
        return values

    count = 0
    batch: list[list] = []
    with connection.cursor() as cursor:
        for line in lines(blocks):
            batch.append(convert(line))
            if len(batch) >= CHUNK:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def export_keys(queryset, *, using: str, write: Callable[[bytes], None]) -> int:
    """Write the primary key of every row of `queryset`, one per line, in key order."""
    pk = queryset.model._meta.pk
    queryset = queryset.using(using).order_by("pk")
    connection = connections[using]
    if connection.vendor == "postgresql":
        sql, params = queryset.values_list(pk.attname).query.sql_with_params()
        ops = cast("PgOperations", connection.ops)
        statement = f"COPY ({ops.compose_sql(sql, params)}) TO STDOUT"
        count = 0
        buffer = bytearray()
        with connection.cursor() as cursor:
            with cursor.cursor.copy(statement) as copy:
                for data in copy:
                    buffer += data
                    count += bytes(data).count(b"\n")
                    if len(buffer) >= 1 << 20:
                        write(bytes(buffer))
                        buffer.clear()
        if buffer:
            write(bytes(buffer))
        return count
    count, last = 0, None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        chunk = list(page.values_list("pk", flat=True)[:CHUNK])
        if not chunk:
            return count
        write(b"".join(str(k).encode() + b"\n" for k in chunk))
        count += len(chunk)
        last = chunk[-1]


def read_keys(model, blocks: Iterable[bytes]) -> set:
    """The primary keys written by `export_keys`, as Python values."""
    pk = model._meta.pk
    return {pk.to_python(line.decode()) for line in lines(blocks)}


def read_pks(model, blocks: Iterable[bytes]) -> set:
    """The primary keys of the JSON-lines rows in `blocks`."""
    pk = model._meta.pk
    return {pk.to_python(json.loads(line)[pk.column]) for line in lines(blocks)}
