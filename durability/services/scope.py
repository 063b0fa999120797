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
from typing import Any, TypedDict

from django.db import models

from accounts.models import Team
from durability import archive
from durability.services._shared import entry_model, fk_fields, model_key, related_model
from governance import registry
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
) -> Selection:
    """Which global rows the workspace's backup carries, per global model.

    Its team, that team's memberships, every global row a workspace row points at, and
    transitively what those point at. `referenced` gives what the workspace rows point
    at when the caller already read it (the backup's readers do, part by part; a delta
    reads it from the rows changed since its parent only: the rows they do not name are
    in the earlier backups of the chain, and a restore only ever adds missing global rows).
    """
    global_base = [e for e in entries if e.is_global and e.history_of is None]
    keys = global_keys(entries)
    team_key = model_key(Team)
    selected: dict[str, set] = {e.key: set() for e in global_base}
    team_bound: set[str] = set()
    if team_key in selected:
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


def workspace_files(workspace: Workspace, *, using: str = "default") -> list[str]:
    """Every file in default storage the workspace owns: named by its rows, or under its prefix."""
    paths: set[str] = set()
    for entry in registry.backup_models():
        if entry.history_of:
            continue  # history names the same files as the live rows (or older, still kept)
        for attname in _path_fields(entry_model(entry)):
            values = (
                registry.workspace_queryset(entry, workspace)
                .using(using)
                .order_by()
                .exclude(**{attname: ""})
                .exclude(**{f"{attname}__isnull": True})
                .values_list(attname, flat=True)
                .distinct()
            )
            paths.update(str(v) for v in values)
    paths.update(archive.walk(archive.media_storage(), f"workspaces/{workspace.pk}"))
    return sorted(paths)


# --- what a delta sees --------------------------------------------------------------


def change_fields(model: type[models.Model], entry: registry.Entry) -> list[str]:
    """The timestamp fields that say a row of `model` was created or changed.

    History rows: `history_date`. Immutable rows (database triggers refuse UPDATE):
    `created_at`. Mutable rows: `updated_at` (set on every save) and `created_at`.
    Append-only rows: `created_at` (or `updated_at`). Empty when a delta cannot see the
    model's changes (system check durability.E002 reports it). Every one is indexed where
    a table grows large (`history_date` and `created_at` everywhere, `updated_at` on the
    large mutable tables).
    """
    names = {f.name for f in model._meta.concrete_fields}
    if entry.history_of is not None:
        return ["history_date"] if "history_date" in names else []
    if entry.immutable and "created_at" in names:
        return ["created_at"]
    if "updated_at" in names:
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
    # simple-history builds a new manager class on every attribute access (milliseconds)
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
