"""The lean read of a thread's messages: one query, plain rows, no model instances.

Reading the last 50 messages through the ORM spends nearly all of its time building
`Message` and `User` instances (the query itself is a backwards walk of the
(thread, seq) unique index, well under a millisecond). `message_rows` returns the same
rows as light `MessageRow` tuples: on PostgreSQL one raw statement with binary
results, whose values psycopg decodes to the Python types the ORM would give (UUID,
aware datetime in UTC, bool); elsewhere one `values_list()` query with the author's
fields joined, so Django's converters do that work.

Each result tuple becomes a `MessageRow` as it is (`tuple.__new__`, no Python-level
constructor per row): the columns are selected in the row's field order, the thread's
id is not selected (every row has the one asked for) but appended, and what needs more
than a column is a property computed when read: `reactions` (PostgreSQL sends the
jsonb as text; the common `{}` skips `json.loads`) and `author`.

A `MessageRow` offers every attribute the chat templates read (`m.pk`, `m.author.handle`,
`m.author_id`, ...), so the page can render it; `api.serializers.message_rows_data`
turns rows into exactly what `MessageOutput` gives for the models.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from django.db import connection

from accounts.models import User

from .models import Message


class AuthorRow(NamedTuple):
    id: UUID
    handle: str
    display_name: str

    @property
    def pk(self) -> UUID:
        return self.id


class MessageRow(NamedTuple):
    id: UUID
    seq: int
    author_id: UUID
    body: str
    client_id: str
    posted_at: datetime
    edited: bool
    edited_at: datetime | None
    deleted: bool
    deleted_at: datetime | None
    reactions_json: str | dict[str, list[str]]  # PostgreSQL: text; SQLite: parsed
    last_event_seq: int
    author_handle: str
    author_display_name: str
    thread_id: UUID

    @property
    def pk(self) -> UUID:
        return self.id

    @property
    def reactions(self) -> dict[str, list[str]]:
        raw = self.reactions_json
        if isinstance(raw, str):
            return {} if raw == "{}" else json.loads(raw)
        return raw

    @property
    def author(self) -> AuthorRow:
        return AuthorRow(self.author_id, self.author_handle, self.author_display_name)


# Message columns in MessageRow order, before the author's two and the thread.
_FIELDS = (
    "id",
    "seq",
    "author_id",
    "body",
    "client_id",
    "posted_at",
    "edited",
    "edited_at",
    "deleted",
    "deleted_at",
    "reactions",
    "last_event_seq",
)
_AUTHOR = ("author__handle", "author__display_name")


def _sql(before: bool) -> str:
    meta = Message._meta
    fks = {"author_id": "author"}
    # reactions as text: mostly "{}", which skips json.loads (MessageRow.reactions).
    cast = {"reactions": "::text"}
    cols = ", ".join(
        f'm."{meta.get_field(fks.get(f, f)).column}"{cast.get(f, "")}' for f in _FIELDS
    )
    user = User._meta
    handle = user.get_field("handle").column
    name = user.get_field("display_name").column
    where = 'm."thread_id" = %s' + (' AND m."seq" < %s' if before else "")
    # Identifiers come from the models' metadata; every value is a bound parameter.
    return (
        f'SELECT {cols}, u."{handle}", u."{name}" FROM "{meta.db_table}" m'  # noqa: S608
        f' JOIN "{user.db_table}" u ON u."{user.pk.column}" = m."author_id"'
        f' WHERE {where} ORDER BY m."seq" DESC LIMIT %s'
    )


_SQL: dict[bool, str] = {}


def _lean_cursor_class():
    """A psycopg cursor that binds on the server and asks for binary results: the rows
    then decode with struct unpacking (UUID from 16 bytes, timestamptz from an int)
    instead of parsing text, which is most of the read's Python cost. Built once."""
    global _LeanCursor
    if _LeanCursor is None:
        import psycopg

        class LeanCursor(psycopg.Cursor):
            def execute(self, query, params=None, **kwargs):
                return super().execute(query, params, binary=True, **kwargs)

        _LeanCursor = LeanCursor
    return _LeanCursor


_LeanCursor = None


def _fetch(thread_id, before_seq: int | None, limit: int) -> list[tuple[Any, ...]]:
    """The page's rows as tuples in MessageRow field order."""
    if connection.vendor == "postgresql":
        before = before_seq is not None
        sql = _SQL.get(before) or _SQL.setdefault(before, _sql(before))
        params = [thread_id, before_seq, limit] if before else [thread_id, limit]
        connection.ensure_connection()
        # Through Django's cursor wrapper (query logging and counting stay as they are);
        # the wrapped cursor is the binary one, on the same connection and transaction.
        raw = _lean_cursor_class()(connection.connection)
        with connection._prepare_cursor(raw) as cur:
            cur.execute(sql, params)
            found = cur.fetchall()
        tail = (thread_id if isinstance(thread_id, UUID) else UUID(str(thread_id)),)
        return [r + tail for r in found]
    qs = Message.objects.filter(thread_id=thread_id)
    if before_seq is not None:
        qs = qs.filter(seq__lt=before_seq)
    return list(qs.order_by("-seq").values_list(*_FIELDS, *_AUTHOR, "thread_id")[:limit])


def message_rows(*, thread_id, before_seq: int | None = None, limit: int = 50) -> list[MessageRow]:
    """Up to `limit` messages of the thread (before `before_seq` if given), newest FIRST."""
    new = tuple.__new__
    return [new(MessageRow, r) for r in _fetch(thread_id, before_seq, limit)]
