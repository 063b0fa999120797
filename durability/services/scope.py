"""What a workspace backup contains: its parts in load order, and the files it owns.

Every registry model in the backup scope, parents before children, with the queryset
that selects the workspace's rows; the global rows it references (its team, that
team's memberships, every user its rows point at, and so on transitively) and their
history; and every uploaded file and blob its rows name or that lives under
`workspaces/<id>/` in default storage. The registry drives everything: a model added
by any app is covered without touching this module.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any, TypedDict

from django.db import connections, models

from accounts.models import Team
from durability import archive
from durability.services._shared import entry_model, fk_fields, model_key, related_model
from governance import registry
from governance.models import AuditAction, AuditEvent
from workspaces.models import Workspace


class PartInfo(TypedDict, total=False):
    """How a part relates to the workspace; copied into the part's manifest entry."""

    scope: str  # "workspace" | "global"
    team_bound: bool  # a global part that hangs off the team (memberships)


Part = tuple[registry.Entry, "models.QuerySet[Any]", PartInfo]


def workspace_scope(workspace: Workspace, *, using: str = "default") -> list[Part]:
    """(entry, queryset, part info) for every part of `workspace`'s backup, in load order."""
    entries = registry.backup_models(include_global=True)
    selection = global_selection(workspace, entries, using=using)
    parts = [scope_part(entry, workspace, selection) for entry in entries]
    return [part for part in parts if part is not None]


Selection = tuple[dict[str, set], set[str]]  # global row keys per model; team-bound models


def global_keys(entries: list[registry.Entry]) -> set[str]:
    """The global models whose rows a workspace backup selects (history follows its model)."""
    return {e.key for e in entries if e.is_global and e.history_of is None}


def global_references(entry: registry.Entry, targets: set[str]) -> list[tuple[str, str]]:
    """(global model, column attname) for every foreign key of `entry` to one of `targets`."""
    found = []
    for f in fk_fields(entry_model(entry)):
        target = model_key(related_model(f))
        if target in targets:
            found.append((target, f.attname))
    return found


def referenced_rows(
    rows: models.QuerySet[Any], references: list[tuple[str, str]], *, using: str
) -> dict[str, set]:
    """The keys of the global rows that `rows` name, per global model."""
    found: dict[str, set] = {}
    for target, attname in references:
        values = rows.using(using).order_by().values_list(attname, flat=True).distinct()
        found.setdefault(target, set()).update(v for v in values if v is not None)
    return found


def global_selection(
    workspace: Workspace,
    entries: list[registry.Entry],
    *,
    using: str = "default",
    referenced: dict[str, set] | None = None,
    since: datetime.datetime | None = None,
) -> Selection:
    """Which global rows the workspace's backup carries, per global model.

    Its team, that team's memberships, every global row a workspace row points at, and
    transitively what those point at. `referenced` gives what the workspace rows point
    at when the caller already read it (the backup's readers do, part by part).

    A delta (`since` given) starts only from what changed since its parent: the global
    rows its changed rows name, and the team's rows (memberships, ...) created or changed
    since, then follows those as a full backup does. The rest are in the earlier backups
    of the chain, the full one first, and a restore only ever adds missing global rows (an
    existing one is never changed), so carrying them again would add nothing.
    """
    global_base = [e for e in entries if e.is_global and e.history_of is None]
    keys = global_keys(entries)
    team_key = model_key(Team)
    selected: dict[str, set] = {e.key: set() for e in global_base}
    team_bound: set[str] = set()
    if team_key in selected and since is None:
        selected[team_key].add(workspace.team_id)
    if referenced is None:
        referenced = {}
        for entry in entries:
            if not entry.is_global:
                rows = registry.workspace_queryset(entry, workspace)
                for target, found in referenced_rows(
                    rows, global_references(entry, keys), using=using
                ).items():
                    referenced.setdefault(target, set()).update(found)
    for target, found in referenced.items():
        selected[target].update(found)
    for entry in global_base:
        model = entry_model(entry)
        for f in fk_fields(model):
            if related_model(f)._meta.concrete_model is Team and entry.key != team_key:
                team_bound.add(entry.key)
                ids = model._default_manager.using(using).filter(**{f.attname: workspace.team_id})
                if since is not None and change_fields(model, entry):
                    ids = changed_since(entry, ids, since)
                selected[entry.key].update(ids.values_list("pk", flat=True))
    changed = True
    while changed:  # follow global rows' own foreign keys (a membership's user, ...)
        changed = False
        for entry in global_base:
            if not selected[entry.key]:
                continue
            model = entry_model(entry)
            for f in fk_fields(model):
                target = model_key(related_model(f))
                if target not in keys or target == entry.key:
                    continue
                values = (
                    model._default_manager.using(using)
                    .filter(pk__in=selected[entry.key])
                    .values_list(f.attname, flat=True)
                    .distinct()
                )
                new = {v for v in values if v is not None} - selected[target]
                if new:
                    selected[target] |= new
                    changed = True
    return selected, team_bound


def scope_part(entry: registry.Entry, workspace: Workspace, selection: Selection) -> Part | None:
    """The part of `entry` in `workspace`'s backup; None for a global model with no rows."""
    if not entry.is_global:
        return entry, registry.workspace_queryset(entry, workspace), {"scope": "workspace"}
    selected, team_bound = selection
    base_key = entry.history_of or entry.key
    if base_key not in selected or not selected[base_key]:
        return None
    qs = entry_model(entry)._default_manager.filter(
        **{f"{_tracked_pk_path(entry)}__in": sorted(selected[base_key], key=str)}
    )
    return entry, qs.order_by("pk"), {"scope": "global", "team_bound": base_key in team_bound}


def _tracked_pk_path(entry: registry.Entry) -> str:
    """How rows of `entry` name the global row they belong to (its primary key)."""
    if entry.history_of is None:
        return "pk"
    names = {f.name for f in entry_model(entry)._meta.fields}
    if "m2m_history_id" in names and "history" in names:
        return "history__id"  # simple-history's many-to-many snapshot rows
    return "id"  # a historical row carries the tracked row's id


def _path_fields(model: type[models.Model]) -> list[str]:
    return [
        f.attname
        for f in model._meta.concrete_fields
        if isinstance(f, models.FileField)
        or (isinstance(f, models.CharField) and f.name.endswith("_path"))
    ]


def workspace_files(
    workspace: Workspace, *, using: str = "default", entries: list[registry.Entry] | None = None
) -> list[str]:
    """Every file in default storage the workspace owns: named by its rows, or under its prefix."""
    named: list[models.QuerySet[Any]] = []
    for entry in registry.backup_models() if entries is None else entries:
        if entry.is_global or entry.history_of:
            continue  # history names the same files as the live rows (or older, still kept)
        for attname in _path_fields(entry_model(entry)):
            named.append(
                registry.workspace_queryset(entry, workspace)
                .using(using)
                .order_by()
                .exclude(**{attname: ""})
                .exclude(**{f"{attname}__isnull": True})
                .values_list(attname, flat=True)
            )
    paths: set[str] = set()
    if named:  # one statement: a UNION of every path column's distinct values
        paths.update(str(v) for v in named[0].union(*named[1:]))
    paths.update(archive.walk(archive.media_storage(), f"workspaces/{workspace.pk}"))
    return sorted(paths)


# --- what a delta sees --------------------------------------------------------------


def change_fields(model: type[models.Model], entry: registry.Entry) -> list[str]:
    """The timestamp fields that say a row of `model` was created or changed.

    History rows: `history_date`. Immutable rows (database triggers refuse UPDATE):
    `created_at`. Mutable rows: `updated_at` when it is `auto_now` (set on every save,
    the insert included), else `updated_at` and `created_at`. Append-only rows without
    `updated_at`: `created_at`. Empty when a delta cannot see the model's changes (system check
    durability.E002 reports it). Every one is indexed where a table grows large
    (`history_date` and `created_at` everywhere, `updated_at` on the
    large mutable tables).
    """
    names = {f.name for f in model._meta.concrete_fields}
    if entry.history_of is not None:
        return ["history_date"] if "history_date" in names else []
    if entry.immutable and "created_at" in names:
        return ["created_at"]
    if "updated_at" in names:
        # `auto_now` sets updated_at at the insert too (after created_at, in field
        # order), so updated_at >= created_at and created_at adds no row; its OR would
        # also keep a table whose created_at has no index (the chat view) off the index.
        updated = model._meta.get_field("updated_at")
        if getattr(updated, "auto_now", False):
            return ["updated_at"]
        return [n for n in ("updated_at", "created_at") if n in names]
    if entry.append_only and "created_at" in names:
        return ["created_at"]
    return []


def changed_since(
    entry: registry.Entry, queryset: models.QuerySet[Any], since
) -> models.QuerySet[Any]:
    """The rows of a workspace part created or changed at or after `since`."""
    fields = change_fields(entry_model(entry), entry)
    if not fields:
        raise TypeError(f"{entry.key} has no field that shows its changes to a delta")
    condition = models.Q()
    for name in fields:
        condition |= models.Q(**{f"{name}__gte": since})
    return queryset.filter(condition)


def delta_blind_entries() -> list[registry.Entry]:
    """Workspace models in the backup scope whose changes an incremental backup cannot see."""
    blind = []
    for entry in registry.backup_models():
        if not change_fields(entry_model(entry), entry):
            blind.append(entry)
    return blind


def backup_carrier(entry: registry.Entry) -> str:
    """Which backup carries `entry`, from the lists the backup code itself walks.

    Workspace models: every workspace backup (full and incremental). Global models: the
    instance backup (and a workspace backup carries the rows its workspace references).
    File stores in the backup scope: workspace backups copy every file under
    `workspaces/<id>/` and every file a row names. Otherwise `backup_via` or nothing.
    """
    if entry.kind == "model":
        if entry.key in {e.key for e in registry.backup_models()}:
            return "workspace backups (full and incremental)"
        if entry.key in {e.key for e in registry.backup_models(include_global=True)}:
            return "instance backup; workspace backups carry the rows they reference"
    elif entry.backup:
        return "workspace backups (files in default storage)"
    return entry.backup_via or ""


@functools.cache
def _history_model(model: type[models.Model]) -> type[models.Model] | None:
    # simple-history builds a new manager class on every attribute access (milliseconds):
    # read the historical model off its descriptor instead
    name = getattr(model._meta, "simple_history_manager_attribute", None)
    if not name:
        return None
    for klass in model.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None and isinstance(getattr(descriptor, "model", None), type):
            return descriptor.model
    return registry.history_model_for(model)


def deleted_keys(
    entry: registry.Entry, workspace: Workspace, since: datetime.datetime
) -> models.QuerySet[Any] | None:
    """The primary keys of `entry`'s workspace rows deleted at or after `since`, or None.

    Read from the "-" rows of the model's history (every delete writes one; history is
    immutable), so a delta need not list every key the workspace has to see deletes. A
    row of a model whose tenant path starts at a parent (`project__workspace`) is the
    workspace's when that parent is, or was deleted since too (the same question asked of
    the parent, as a subquery). None when deletes cannot be told this way: a model without
    history, or one whose parent's deletes cannot be; the delta lists every key instead.
    """
    model = entry_model(entry)
    history = _history_model(model)
    if history is None or entry.immutable:
        return None
    if entry.tenant == registry.SELF:
        return history._default_manager.none().values("id")  # a deleted workspace has no deltas
    removed = history._default_manager.filter(history_type="-", history_date__gte=since)
    first, _, rest = entry.tenant.partition("__")
    field = model._meta.get_field(first)
    if not rest:  # the row names its workspace
        return removed.filter(**{field.attname: workspace.pk}).order_by().values("id")  # type: ignore[union-attr]
    target = field.related_model
    parent = registry.entry_for_model(target) if isinstance(target, type) else None
    parent_gone = deleted_keys(parent, workspace, since) if parent is not None else None
    if parent is None or parent_gone is None:
        return None
    live = registry.workspace_queryset(parent, workspace).order_by().values("pk")
    condition = models.Q(**{f"{field.attname}__in": live}) | models.Q(  # type: ignore[union-attr]
        **{f"{field.attname}__in": parent_gone}  # type: ignore[union-attr]
    )
    return removed.filter(condition).order_by().values("id")


@dataclass
class DeltaPlan:
    """What a delta reads of one changed workspace model: its rows, those changed, deletes.

    `mode` says how the delta tells the model's deletes: "history" (its history's "-"
    rows, `removed`), "immutable" (none: rows are only ever added), "view" (a rebuildable
    view: its row count) or "keys" (every key it has).
    """

    entry: registry.Entry
    rows: models.QuerySet[Any]
    changed: models.QuerySet[Any]
    removed: models.QuerySet[Any] | None
    mode: str


def delta_mode(entry: registry.Entry, views: set[str]) -> str:
    if _deletes_in_history(entry):
        return "history"
    if entry.immutable:
        return "immutable"
    return "view" if entry.key in views else "keys"


def _deletes_in_history(entry: registry.Entry) -> bool:
    """Whether `deleted_keys` can tell `entry`'s deletes (without building its query)."""
    model = entry_model(entry)
    if _history_model(model) is None or entry.immutable:
        return False
    if entry.tenant == registry.SELF:
        return True
    first, _, rest = entry.tenant.partition("__")
    if not rest:
        return True
    target = model._meta.get_field(first).related_model
    parent = registry.entry_for_model(target) if isinstance(target, type) else None
    return parent is not None and _deletes_in_history(parent)


def delta_plan(
    entry: registry.Entry, workspace: Workspace, since: datetime.datetime, views: set[str]
) -> DeltaPlan:
    rows = registry.workspace_queryset(entry, workspace).order_by()
    removed = deleted_keys(entry, workspace, since)
    mode = delta_mode(entry, views)
    return DeltaPlan(entry, rows, changed_since(entry, rows, since), removed, mode)


@dataclass
class DeltaChange:
    """What one query found for a workspace model: changed rows (counted up to a bound),
    any deleted key, and (for "view" and "keys" models) the rows the workspace has now."""

    changed: int
    deleted: bool
    rows: int | None


def _pk(model: type[models.Model]) -> models.Field:
    pk = model._meta.pk
    assert pk is not None
    return pk


def _column(model: type[models.Model], name: str) -> str:
    column = model._meta.get_field(name).column  # type: ignore[union-attr]
    assert isinstance(column, str), f"{model.__name__}.{name} has no column"
    return column


class _DeltaSql:
    """The SQL of `delta_changes`, written from the models' metadata.

    The same questions as `workspace_queryset`, `changed_since` and `deleted_keys` ask
    through the ORM (a test holds them equal), but without building ~150 querysets: for
    ~50 models that cost more than the delta's whole read.
    """

    def __init__(self, using: str, workspace: Workspace, since: datetime.datetime) -> None:
        self.connection = connections[using]
        self.quote = self.connection.ops.quote_name
        self.workspace_pk = _pk(Workspace).get_db_prep_value(workspace.pk, self.connection)
        self.since = models.DateTimeField().get_db_prep_value(since, self.connection)
        self.aliases = 0

    def _alias(self) -> str:
        self.aliases += 1
        return f"d{self.aliases}"

    def rows(self, model: type[models.Model], tenant: str) -> tuple[str, str, str, list[Any]]:
        """(alias, FROM clause, tenant condition, params) of the workspace's rows of `model`."""
        q = self.quote
        alias = self._alias()
        joins = [f"{q(model._meta.db_table)} {alias}"]
        if tenant in (registry.SELF, "id"):
            column = _column(model, _pk(model).name) if tenant == registry.SELF else "id"
            return alias, joins[0], f"{alias}.{q(column)} = %s", [self.workspace_pk]
        *hops, last = tenant.split("__")
        current, at = model, alias
        for hop in hops:
            field = current._meta.get_field(hop)
            assert isinstance(field, models.ForeignKey), f"{tenant} of {model} is a path of FKs"
            target = related_model(field)
            nxt = self._alias()
            key = q(_column(target, _pk(target).name))
            joins.append(
                f"INNER JOIN {q(target._meta.db_table)} {nxt} ON {nxt}.{key}"
                f" = {at}.{q(_column(current, hop))}"
            )
            current, at = target, nxt
        column = _column(current, last)
        return alias, " ".join(joins), f"{at}.{q(column)} = %s", [self.workspace_pk]

    def changed(self, entry: registry.Entry, bound: int) -> tuple[str, list[Any]]:
        model = entry_model(entry)
        alias, source, where, params = self.rows(model, entry.tenant)
        fields = change_fields(model, entry)
        if not fields:
            raise TypeError(f"{entry.key} has no field that shows its changes to a delta")
        since = " OR ".join(f"{alias}.{self.quote(_column(model, n))} >= %s" for n in fields)
        sql = f"SELECT 1 FROM {source} WHERE {where} AND ({since}) LIMIT {int(bound)}"  # noqa: S608 - identifiers quoted from model metadata, values bound
        count = f"(SELECT COUNT(*) FROM ({sql}) changed)"  # noqa: S608 - identifiers quoted from model metadata, values bound
        return count, params + [self.since] * len(fields)

    def present(self, entry: registry.Entry) -> tuple[str, list[Any]]:
        _alias, source, where, params = self.rows(entry_model(entry), entry.tenant)
        return f"(SELECT COUNT(*) FROM {source} WHERE {where})", params  # noqa: S608 - identifiers quoted from model metadata, values bound

    def view_settled(
        self, entry: registry.Entry, changed: str, params: list[Any]
    ) -> tuple[str, list[Any]] | None:
        """A condition true when a view's row count cannot have moved since `since`.

        A view row is only ever deleted by a rebuild (which records a `views_rebuild`
        audit event in the transaction that deletes), by its parent's delete, or by a
        purge; every row it gains is written with a new `updated_at`. So: no row written
        since (`changed`, with its params), no parent row deleted since and no rebuild
        recorded since for the workspace (or for all workspaces). None when the parent's
        deletes cannot be told: then the view is always counted.
        """
        q = self.quote
        conditions, out = [f"{changed} = 0"], list(params)
        first, _, rest = entry.tenant.partition("__")
        if rest:
            model = entry_model(entry)
            target = related_model(model._meta.get_field(first))  # type: ignore[arg-type]
            parent = registry.entry_for_model(target)
            gone = self.deleted_ids(parent) if parent is not None else None
            if gone is None:
                return None
            conditions.append(f"NOT EXISTS ({gone[0]})")
            out += gone[1]
        audit = q(AuditEvent._meta.db_table)
        alias = self._alias()
        conditions.append(
            f"NOT EXISTS (SELECT 1 FROM {audit} {alias} WHERE {alias}.{q('action')} = %s"  # noqa: S608 - identifiers quoted from model metadata, values bound
            f" AND {alias}.{q('created_at')} >= %s AND ({alias}.{q('workspace_id')} = %s"
            f" OR {alias}.{q('workspace_id')} IS NULL))"
        )
        out += [AuditAction.VIEWS_REBUILD.value, self.since, self.workspace_pk]
        return " AND ".join(conditions), out

    def deleted_ids(self, entry: registry.Entry) -> tuple[str, list[Any]] | None:
        """SELECT of the keys of `entry`'s workspace rows deleted since (`deleted_keys`)."""
        q = self.quote
        model = entry_model(entry)
        history = _history_model(model)
        if history is None or entry.tenant == registry.SELF:
            return None  # a deleted workspace has no deltas
        alias = self._alias()
        head = (
            f"SELECT {alias}.{q('id')} FROM {q(history._meta.db_table)} {alias} WHERE"  # noqa: S608 - identifiers quoted from model metadata, values bound
            f" {alias}.{q('history_type')} = %s AND {alias}.{q('history_date')} >= %s"
        )
        params: list[Any] = ["-", self.since]
        first, _, rest = entry.tenant.partition("__")
        column = _column(model, first)
        if not rest:
            return f"{head} AND {alias}.{q(column)} = %s", [*params, self.workspace_pk]
        target = related_model(model._meta.get_field(first))  # type: ignore[arg-type]
        parent = registry.entry_for_model(target)
        gone = self.deleted_ids(parent) if parent is not None else None
        if parent is None:
            return None
        p_alias, p_source, p_where, p_params = self.rows(target, parent.tenant)
        pk = q(_column(target, _pk(target).name))
        live = f"SELECT {p_alias}.{pk} FROM {p_source} WHERE {p_where}"  # noqa: S608 - identifiers quoted from model metadata, values bound
        condition = f"{alias}.{q(column)} IN ({live})"
        params += p_params
        if gone is not None:
            condition = f"({condition} OR {alias}.{q(column)} IN ({gone[0]}))"
            params += gone[1]
        return f"{head} AND {condition}", params


def delta_changes(
    entries: list[registry.Entry],
    *,
    workspace: Workspace,
    since: datetime.datetime,
    views: set[str],
    using: str,
    bound: int,
) -> list[DeltaChange]:
    """Which of `entries` (workspace models) changed since `since`, in one statement.

    One `SELECT` of up to three scalar subqueries per model: its changed rows (through
    the indexed change fields, counted no further than `bound`), whether its history
    names a deleted key since, and for a model whose deletes only a count or a key list
    can tell, its row count now (a view's only when it may have moved: `view_settled`).
    A delta then reads nothing more of a model with no change.
    """
    if not entries:
        return []
    sql = _DeltaSql(using, workspace, since)
    columns: list[str] = []
    params: list[Any] = []
    for entry in entries:
        mode = delta_mode(entry, views)
        changed, found = sql.changed(entry, bound)
        columns.append(changed)
        params += found
        gone = sql.deleted_ids(entry) if mode == "history" else None
        columns.append(f"EXISTS ({gone[0]})" if gone is not None else "0")
        params += gone[1] if gone is not None else []
        settled = sql.view_settled(entry, changed, found) if mode == "view" else None
        if settled is not None:  # a view is counted only when its count may have moved
            present, counted = sql.present(entry)
            columns.append(f"(CASE WHEN {settled[0]} THEN NULL ELSE {present} END)")
            params += settled[1] + counted
        elif mode in ("view", "keys"):
            present, counted = sql.present(entry)
            columns.append(present)
            params += counted
        else:
            columns.append("NULL")
    with sql.connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(columns), params)
        row = cursor.fetchone()
    return [
        DeltaChange(int(row[i]), bool(row[i + 1]), None if row[i + 2] is None else int(row[i + 2]))
        for i in range(0, len(row), 3)
    ]
