"""The lean read of a thread's messages: one query, plain rows, no model instances.

Reading the last 50 messages through the ORM spends nearly all of its time building
`Message` and `User` instances (the query itself is a backwards walk of the
(thread, seq) unique index, well under a millisecond). `message_rows` returns the same
rows as light `MessageRow` objects: on PostgreSQL one raw statement with binary
results, whose values psycopg decodes to the Python types the ORM would give (UUID,
aware datetime in UTC, bool; `reactions` comes as text and is parsed here, skipping
the common `{}`); elsewhere one `values_list()` query with the author's fields joined,
so Django's converters do that work.

A `MessageRow` offers every attribute the chat templates read (`m.pk`, `m.author.handle`,
`m.author_id`, ...), so the page can render it; `api.serializers.message_rows_data`
turns rows into exactly what `MessageOutput` gives for the models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection

from accounts.models import User

from .models import Message


@dataclass(frozen=True, slots=True)
class AuthorRow:
    id: UUID
    handle: str
    display_name: str

    @property
    def pk(self) -> UUID:
        return self.id


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: UUID
    thread_id: UUID
    seq: int
    author_id: UUID
    body: str
    client_id: str
    posted_at: datetime
    edited: bool
    edited_at: datetime | None
    deleted: bool
    deleted_at: datetime | None
    reactions: dict[str, list[str]]
    last_event_seq: int
    author: AuthorRow = field(compare=False)

    @property
    def pk(self) -> UUID:
        return self.id


# Message columns in MessageRow order (before the author), then the author's two.
_FIELDS = (
    "id",
    "thread_id",
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
    fks = {"thread_id": "thread", "author_id": "author"}
    # reactions as text: mostly "{}", which skips json.loads (see message_rows).
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
            return cur.fetchall()
    qs = Message.objects.filter(thread_id=thread_id)
    if before_seq is not None:
        qs = qs.filter(seq__lt=before_seq)
    return list(qs.order_by("-seq").values_list(*_FIELDS, *_AUTHOR)[:limit])


def message_rows(*, thread_id, before_seq: int | None = None, limit: int = 50) -> list[MessageRow]:
    """Up to `limit` messages of the thread (before `before_seq` if given), newest FIRST."""
    rows, authors = [], {}
    for r in _fetch(thread_id, before_seq, limit):
        reactions = r[11]
        if isinstance(reactions, str):  # PostgreSQL: jsonb as text (SQLite: JSONField parsed)
            reactions = {} if reactions == "{}" else json.loads(reactions)
        author = authors.get(r[3])  # a page holds few authors: one AuthorRow each
        if author is None:
            author = authors[r[3]] = AuthorRow(r[3], r[13], r[14])
        rows.append(MessageRow(*r[:11], reactions, r[12], author=author))
    return rows
