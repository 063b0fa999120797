"""Streaming rows of one model out of, and into, the database.

Parts are written in PostgreSQL's COPY text format (`ENCODING = "copy-text"`, archive
format 3 and later): one line per row, the manifest's `columns` in order, tab-separated,
`\\N` for NULL, backslash escapes for tab/newline/carriage return/backslash. On
PostgreSQL that is exactly `COPY (<queryset SQL>) TO STDOUT` out and `COPY <table>
(<columns>) FROM STDIN` in, so the database does the encoding and decoding and rows go
straight into their table. SQLite writes the same format in Python (keyset pagination on
the primary key, values spelled as PostgreSQL's input accepts them: ISO timestamps,
`t`/`f`, JSON text, `\\x` hex bytes) and reads it back with each field's `to_python`,
so a backup restores across vendors both ways.

Older archives (format 1 and 2) hold JSON lines, one object per row keyed by column name
(`ENCODING_JSONL`); they are still read: PostgreSQL through a temporary one-column table
and `json_populate_record`, SQLite with `executemany`. Writes bypass `Model.save()` on
purpose: a restore puts back rows exactly as they were (timestamps included) and writes
no new history. Memory stays constant: rows are never all held at once.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

import psycopg
from django.db import DatabaseError, connections
from django.db.models.expressions import RawSQL
from psycopg import pq

if TYPE_CHECKING:
    from django.db.backends.postgresql.operations import DatabaseOperations as PgOperations

CHUNK = 5000
BUFFER = 1 << 20
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


ENCODING = "copy-text"  # what export() writes
ENCODING_JSONL = "jsonl"  # archive formats 1 and 2


def export(queryset, *, using: str, write: Callable[[bytes], None]) -> int:
    """Write `queryset`'s rows (COPY text format) through `write`; returns the row count."""
    model = queryset.model
    fields = columns(model)
    queryset = queryset.using(using)
    if connections[using].vendor == "postgresql":
        return _export_pg(queryset, fields, using, write)
    return _export_chunked(queryset, fields, using, write)


def in_load_order(queryset, *, using: str):
    """`queryset` ordered as its rows were loaded into a freshly restored table.

    A workspace part is written in whatever order PostgreSQL's plan reads it (no sort by
    the random UUID key, which made a backup read every large table through its primary
    key index). Restored with one COPY into an empty table, its rows sit in the heap in
    file order, so reading the scratch database by physical location (`ctid`) gives the
    part's bytes back exactly. SQLite writes and reads parts in primary-key order.
    """
    if connections[using].vendor != "postgresql":
        return queryset.order_by("pk")
    table = connections[using].ops.quote_name(queryset.model._meta.db_table)
    return queryset.order_by(RawSQL(f"{table}.ctid", ()).asc())  # noqa: S611 - a quoted table name


def _copy_out(connection, statement: str, write: Callable[[bytes], None]) -> int:
    """Run `COPY (...) TO STDOUT`, handing the output on in ~1 MB blocks; returns lines.

    Reads libpq's copy data directly (`PQgetCopyData`): psycopg's `Copy` iterator costs
    several microseconds per row, which at a million rows is most of a backup's time.
    """
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    pgconn.send_query(statement.encode())
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        _finish(pgconn, result)
        raise DatabaseError(f"COPY did not start: {statement[:200]}")
    count = 0
    buffer = bytearray()
    try:
        while True:
            size, data = pgconn.get_copy_data(0)
            if size < 0:
                break
            buffer += data
            if len(buffer) >= BUFFER:
                count += buffer.count(b"\n")
                write(bytes(buffer))
                buffer.clear()
    except BaseException:
        while pgconn.get_copy_data(0)[0] >= 0:  # drain, so the connection stays usable
            pass
        _finish(pgconn, None)
        raise
    _finish(pgconn, None)
    if buffer:
        count += buffer.count(b"\n")
        write(bytes(buffer))
    return count


def _finish(pgconn, result) -> None:
    """Collect the rest of a statement's results; raise the server's error if it failed."""
    error = None
    while True:
        if result is not None and result.status == pq.ExecStatus.FATAL_ERROR:
            error = error or psycopg.errors.error_from_result(result)
        result = pgconn.get_result()
        if result is None:
            break
    if error is not None:
        raise DatabaseError(str(error).strip()) from error


def _export_pg(queryset, fields, using, write) -> int:
    sql, params = queryset.values_list(*[f.attname for f in fields]).query.sql_with_params()
    connection = connections[using]
    # Parameters are bound client-side (COPY takes none), also under server-side binding.
    ops = cast("PgOperations", connection.ops)  # export() sends only PostgreSQL here
    return _copy_out(connection, f"COPY ({ops.compose_sql(sql, params)}) TO STDOUT", write)


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def _text_value(value, field) -> str:
    """One value spelled as PostgreSQL's COPY text input reads it (escaped, \\N for NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return repr(value)
    if field.get_internal_type() == "JSONField":
        text = json.dumps(value, cls=field.encoder, default=_default, ensure_ascii=False)
    elif isinstance(value, bytes | memoryview):
        text = "\\x" + bytes(value).hex()
    elif isinstance(value, datetime.timedelta):
        text = f"{value.total_seconds()!r} seconds"
    elif isinstance(value, datetime.datetime | datetime.date | datetime.time):
        text = value.isoformat()
    else:
        text = str(value)
    return text.translate(_ESCAPE_TABLE)


def _export_chunked(queryset, fields, using, write) -> int:
    attnames = [f.attname for f in fields]
    pk_index = attnames.index(queryset.model._meta.pk.attname)
    queryset = queryset.order_by("pk")
    count, last = 0, None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        chunk = list(page.values_list(*attnames)[:CHUNK])
        if not chunk:
            return count
        write(
            "".join(
                "\t".join(_text_value(v, f) for v, f in zip(row, fields, strict=True)) + "\n"
                for row in chunk
            ).encode()
        )
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


def load(
    model,
    blocks: Iterable[bytes],
    *,
    using: str,
    skip_existing: bool,
    encoding: str = ENCODING,
    names: list[str] | None = None,
) -> int:
    """Insert the rows in `blocks` into `model`'s table; returns the row count.

    `encoding` is the part's (`ENCODING`, or `ENCODING_JSONL` for older archives) and
    `names` its columns in order (the manifest's `columns`; the model's by default).
    `skip_existing` leaves a row whose primary key (or a unique value) already exists as
    it is (ON CONFLICT DO NOTHING / INSERT OR IGNORE); otherwise a conflict is an error.
    """
    pg = connections[using].vendor == "postgresql"
    if encoding == ENCODING_JSONL:
        if pg:
            return _load_pg_json(model, blocks, using, skip_existing)
        return _load_chunked(
            model, (json.loads(line) for line in lines(blocks)), using, skip_existing
        )
    if encoding != ENCODING:
        raise ValueError(f"unknown part encoding {encoding!r}")
    names = names if names is not None else [f.column for f in columns(model)]
    if pg:
        return _load_pg_text(model, blocks, using, skip_existing, names)
    return _load_chunked(
        model,
        (dict(zip(names, parse_line(line), strict=True)) for line in lines(blocks)),
        using,
        skip_existing,
        text=True,
    )


def _load_pg_text(model, blocks, using, skip_existing, names) -> int:
    """COPY straight into the table; with `skip_existing` through a temporary copy of it."""
    quote = connections[using].ops.quote_name
    table = quote(model._meta.db_table)
    cols = ", ".join(quote(n) for n in names)
    count = 0
    with connections[using].cursor() as cursor:
        target = table
        if skip_existing:
            target = "holdfast_restore_stage"
            cursor.execute(f"DROP TABLE IF EXISTS {target}")
            cursor.execute(
                f"CREATE TEMP TABLE {target} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
        with cursor.cursor.copy(f"COPY {target} ({cols}) FROM STDIN") as copy:
            for block in blocks:
                count += block.count(b"\n")
                copy.write(block)
        if skip_existing:
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {target}"  # noqa: S608
                " ON CONFLICT DO NOTHING"
            )
            cursor.execute(f"DROP TABLE {target}")
    return count


_UNESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape_match(match: re.Match) -> str:
    octal, hexa, char = match.groups()
    if octal is not None:
        return chr(int(octal, 8))
    if hexa is not None:
        return chr(int(hexa, 16))
    return _SIMPLE.get(char, char)


def parse_line(line: bytes) -> list[str | None]:
    """The fields of one COPY text-format line (NULL as None)."""
    values: list[str | None] = []
    for raw in line.decode().split("\t"):
        if raw == "\\N":
            values.append(None)
        elif "\\" in raw:
            values.append(_UNESCAPE.sub(_unescape_match, raw))
        else:
            values.append(raw)
    return values


def _load_pg_json(model, blocks, using, skip_existing) -> int:
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


def _from_text(text: str, field, connection):
    """A COPY text value as the database value of `field` (SQLite)."""
    kind = field.get_internal_type()
    if kind == "JSONField":
        return text  # JSON text already, stored as it is
    if kind == "BinaryField":
        return bytes.fromhex(text[2:]) if text.startswith("\\x") else text.encode()
    if kind == "BooleanField":
        return text in ("t", "true", "1")
    return field.get_db_prep_save(field.to_python(text), connection)


def _load_chunked(model, records: Iterable[dict], using, skip_existing, text=False) -> int:
    connection = connections[using]
    fields = columns(model)
    quote = connection.ops.quote_name
    verb = "INSERT OR IGNORE" if skip_existing else "INSERT"
    sql = (
        f"{verb} INTO {quote(model._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )

    def convert(row: dict) -> list:
        values: list[Any] = []
        for f in fields:
            value = row.get(f.column)
            if value is None:
                values.append(None)
            elif text:
                values.append(_from_text(value, f, connection))
            elif f.get_internal_type() == "JSONField":
                values.append(json.dumps(value, cls=f.encoder, default=_default))
            else:
                values.append(f.get_db_prep_save(f.to_python(value), connection))
        return values

    count = 0
    batch: list[list] = []
    with connection.cursor() as cursor:
        for row in records:
            batch.append(convert(row))
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
        return _copy_out(connection, statement, write)
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


def read_pks(model, blocks: Iterable[bytes], *, encoding: str = ENCODING, names=None) -> set:
    """The primary keys of the rows in `blocks` (a part in `encoding`, columns `names`)."""
    pk = model._meta.pk
    if encoding == ENCODING_JSONL:
        return {pk.to_python(json.loads(line)[pk.column]) for line in lines(blocks)}
    names = names if names is not None else [f.column for f in columns(model)]
    index = names.index(pk.column)
    found = set()
    for line in lines(blocks):
        value = line.split(b"\t")[index].decode()
        found.add(pk.to_python(value))
    return found
