"""The data-class registry: every model and every non-database store, classified.

One mechanism everywhere: the `@data_class(...)` decorator next to a model,
`register_model("app_label.Model", ...)` for third-party models, and
`register_store(...)` for files, Redis key families and log folders. Historical
(django-simple-history) models inherit their base model's entry as append-only
and immutable. Other code asks questions through the functions at the bottom
(`backup_scope(workspace)`, `backup_models()`, `workspace_queryset()`, ...);
the system checks in `governance/checks.py` enforce the rules on every entry.

Flags, and what the checks expect of them:
- `tenant`: ORM path from the model to `workspaces.Workspace` ("workspace",
  "project__workspace"), `SELF` for the Workspace itself, or `GLOBAL`.
- `backup`: the rows (or files) are in the backup scope. Defaults to True for
  everything but ephemeral data. A critical entry that is not row-backed up must
  say where it is kept instead in `backup_via` (e.g. "every backup manifest").
- `append_only` + `immutable`: rows are only ever inserted; `immutable` means
  database triggers refuse UPDATE/DELETE (`governance.immutability`).
- `ttl` (seconds) or `cleanup`: how ephemeral data goes away. `cleanup` names a
  Celery task in the beat schedule or a management command (a sentence may
  surround the name; one of its words must resolve).
- File stores: `writer` is the function that writes the file. A semi-critical
  file store is `append_only=True` (the writer opens files only with mode
  "a"/"ab") or, for whole-file documents such as `priors.json`,
  `atomic_replace=True` (the writer writes a temporary file and `os.replace()`s
  it over the old one, so a reader never sees half a file). Either way it
  declares `tolerant_reader=True`: its reader skips a torn or corrupt last line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from django.apps import apps
from django.db import models


class DataClass(models.TextChoices):
    CRITICAL = "critical", "Critical"
    SEMI_CRITICAL = "semi_critical", "Semi-critical"
    EPHEMERAL = "ephemeral", "Ephemeral"


GLOBAL = "global"
SELF = "self"


@dataclass(frozen=True)
class Entry:
    """One registered model or store."""

    key: str  # "app_label.ModelName" for models, a dotted name for stores
    kind: str  # "model" | "store"
    data_class: str
    tenant: str  # ORM path to the workspace, "self", or "global"
    storage: str  # table name, file path pattern or Redis key pattern
    reason: str
    append_only: bool = False
    immutable: bool = False
    ttl: int | None = None  # seconds
    cleanup: str | None = None  # name of the job that prunes it
    encrypted: bool = False
    backup: bool = True
    tolerant_reader: bool = False  # a file store's reader survives a torn last line
    writer: Callable | None = field(default=None, compare=False, repr=False)
    history_of: str | None = None  # for historical models: the tracked model's key
    atomic_replace: bool = False  # a whole-file store rewritten via temp file + os.replace
    backup_via: str | None = None  # where a non-row-backed-up critical entry is kept instead

    @property
    def model(self) -> type[models.Model]:
        if self.kind != "model":
            raise ValueError(f"{self.key} is a store; it has no model")
        return apps.get_model(self.key)

    @property
    def is_global(self) -> bool:
        return self.tenant == GLOBAL


_models: dict[str, Entry] = {}
_stores: dict[str, Entry] = {}


def _model_key(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def data_class(
    data_class: str,
    *,
    tenant: str,
    reason: str,
    append_only: bool = False,
    immutable: bool = False,
    ttl: int | None = None,
    cleanup: str | None = None,
    encrypted: bool = False,
    backup: bool | None = None,
    storage: str | None = None,
    backup_via: str | None = None,
):
    """Class decorator that registers a model: `@data_class(DataClass.CRITICAL, tenant=...)`."""

    def decorate(model: type[models.Model]) -> type[models.Model]:
        key = _model_key(model)
        _models[key] = Entry(
            key=key,
            kind="model",
            data_class=str(data_class),
            tenant=tenant,
            storage=storage or f"table {model._meta.db_table}",
            reason=reason,
            append_only=append_only,
            immutable=immutable,
            ttl=ttl,
            cleanup=cleanup,
            encrypted=encrypted,
            backup=(data_class != DataClass.EPHEMERAL) if backup is None else backup,
            backup_via=backup_via,
        )
        return model

    return decorate


def register_model(label: str, data_class: str, *, tenant: str, reason: str, **flags) -> None:
    """Register a model we do not own (auth, sessions, admin log, ...) by its label."""
    app_label, _, name = label.partition(".")
    flags.setdefault("backup", data_class != DataClass.EPHEMERAL)
    _models[label] = Entry(
        key=label,
        kind="model",
        data_class=str(data_class),
        tenant=tenant,
        storage=flags.pop("storage", f"model {label}"),
        reason=reason,
        **flags,
    )


def register_store(
    name: str,
    data_class: str,
    *,
    storage: str,
    reason: str,
    tenant: str = GLOBAL,
    append_only: bool = False,
    ttl: int | None = None,
    cleanup: str | None = None,
    encrypted: bool = False,
    backup: bool = False,
    tolerant_reader: bool = False,
    writer: Callable | None = None,
    atomic_replace: bool = False,
    backup_via: str | None = None,
) -> Entry:
    """Register a non-database store (a `.cache` file family, a Redis key family, a log folder)."""
    entry = Entry(
        key=name,
        kind="store",
        data_class=str(data_class),
        tenant=tenant,
        storage=storage,
        reason=reason,
        append_only=append_only,
        ttl=ttl,
        cleanup=cleanup,
        encrypted=encrypted,
        backup=backup,
        tolerant_reader=tolerant_reader,
        writer=writer,
        atomic_replace=atomic_replace,
        backup_via=backup_via,
    )
    _stores[name] = entry
    return entry


def unregister(key: str) -> None:
    """Remove an entry (tests that register deliberately bad examples clean up with this)."""
    _models.pop(key, None)
    _stores.pop(key, None)


# --- questions ------------------------------------------------------------


def _historical_entry(model: type[models.Model]) -> Entry | None:
    if _is_m2m_history(model):
        return _m2m_historical_entry(model)
    tracked = getattr(model, "instance_type", None)
    if tracked is None or not hasattr(model, "history_id"):
        return None
    base = _models.get(_model_key(tracked))
    if base is None:
        return None
    return replace(
        base,
        key=_model_key(model),
        storage=f"table {model._meta.db_table}",
        reason=f"Audited history of {base.key}: who changed what, when.",
        append_only=True,
        immutable=True,
        history_of=base.key,
        tenant=base.tenant if base.tenant != SELF else "id",
    )


def _is_m2m_history(model: type[models.Model]) -> bool:
    names = {f.name for f in model._meta.fields}
    return "m2m_history_id" in names and "history" in names


def _m2m_historical_entry(model: type[models.Model]) -> Entry | None:
    """simple-history's snapshot table of a tracked many-to-many field (e.g. User.groups)."""
    tracked = model._meta.get_field("history").related_model
    parent = _historical_entry(tracked) if isinstance(tracked, type) else None
    if parent is None:
        return None
    return replace(
        parent,
        key=_model_key(model),
        storage=f"table {model._meta.db_table}",
        reason=f"Many-to-many snapshots of {parent.history_of} history records.",
        tenant=parent.tenant if parent.is_global else f"history__{parent.tenant}",
    )


def entry_for_model(model: type[models.Model]) -> Entry | None:
    model = model._meta.concrete_model or model
    entry = _models.get(_model_key(model))
    if entry is None:
        entry = _historical_entry(model)
    return entry


def concrete_models() -> list[type[models.Model]]:
    """Every concrete, managed model Django knows (proxies share their concrete model)."""
    return [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and not m._meta.swapped
    ]


def model_entries() -> list[Entry]:
    entries = []
    for model in concrete_models():
        entry = entry_for_model(model)
        if entry is not None:
            entries.append(entry)
    return sorted(entries, key=lambda e: e.key)


def store_entries() -> list[Entry]:
    return sorted(_stores.values(), key=lambda e: e.key)


def all_entries() -> list[Entry]:
    return model_entries() + store_entries()


def unregistered_models() -> list[type[models.Model]]:
    return [m for m in concrete_models() if entry_for_model(m) is None]


def has_history(model: type[models.Model]) -> bool:
    """True when django-simple-history tracks this model."""
    from simple_history.models import registered_models

    return model._meta.db_table in registered_models


def tenant_filter(entry: Entry, workspace) -> dict:
    """The queryset filter that selects `workspace`'s rows of a tenant-scoped model."""
    if entry.tenant == GLOBAL:
        raise ValueError(f"{entry.key} is global; it has no workspace filter")
    if entry.tenant == SELF:
        return {"pk": workspace.pk}
    if entry.tenant == "id":
        return {"id": workspace.pk}
    return {entry.tenant: workspace}


def workspace_queryset(entry: Entry, workspace):
    """All of `workspace`'s rows of a tenant-scoped model, in primary-key order."""
    model = entry.model
    return model._default_manager.filter(**tenant_filter(entry, workspace)).order_by("pk")


def backup_models(*, include_global: bool = False) -> list[Entry]:
    """Models in the backup scope, parents before children (foreign-key dependency order)."""
    entries = [e for e in model_entries() if e.backup and (include_global or not e.is_global)]
    return _dependency_order(entries)


def _dependency_order(entries: list[Entry]) -> list[Entry]:
    by_key = {e.key: e for e in entries}
    deps: dict[str, set[str]] = {}
    for e in entries:
        model = e.model
        targets = set()
        for f in model._meta.get_fields():
            related = f.related_model
            if (f.many_to_one or f.one_to_one) and f.concrete and isinstance(related, type):
                target = _model_key(related._meta.concrete_model or related)
                if target in by_key and target != e.key:
                    targets.add(target)
        deps[e.key] = targets
    ordered: list[Entry] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in done:
            return
        if key in visiting:  # a cycle: nullable FKs break it at load time
            return
        visiting.add(key)
        for dep in sorted(deps[key]):
            visit(dep)
        visiting.discard(key)
        done.add(key)
        ordered.append(by_key[key])

    for key in sorted(by_key):
        visit(key)
    return ordered


def backup_scope(workspace) -> Iterator[tuple[Entry, models.QuerySet]]:
    """Every model in `workspace`'s backup scope with the queryset selecting its rows.

    Parents come before children (foreign-key dependency order), and history
    models are included (after the models they track). Global models are not
    part of a workspace's scope; a full backup asks `backup_models(include_global=True)`.
    """
    for entry in backup_models():
        yield entry, workspace_queryset(entry, workspace)


def entry_for_key(key: str) -> Entry | None:
    """The entry for a model label ("app_label.Model") or a store name."""
    if key in _stores:
        return _stores[key]
    if key in _models:
        return _models[key]
    for entry in model_entries():
        if entry.key == key:
            return entry
    return None


def entries_of_class(data_class: str) -> list[Entry]:
    return [e for e in all_entries() if e.data_class == str(data_class)]


def history_model_for(model: type[models.Model]) -> type[models.Model] | None:
    """The simple-history model that records `model`'s changes, or None."""
    manager = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, manager).model if manager else None


def workspace_history_models() -> list[tuple[Entry, type[models.Model]]]:
    """(entry, historical model) for every history table of a workspace-scoped model."""
    result = []
    for entry in model_entries():
        if entry.history_of is None or entry.is_global or _is_m2m_history(entry.model):
            continue
        result.append((entry, entry.model))
    return result


def resolve_tenant_path(model: type[models.Model], path: str) -> type[models.Model] | None:
    """Follow a tenant path from `model`; the model it ends at, or None if it is broken."""
    if path == SELF:
        return model
    if path == "id" and getattr(model, "instance_type", None) is not None:
        return model.instance_type  # type: ignore[attr-defined]  # historical Workspace rows: `id` is the workspace's id
    current = model
    for part in path.split("__"):
        try:
            f = current._meta.get_field(part)
        except Exception:  # FieldDoesNotExist, or not a model
            return None
        if not (f.is_relation and (f.many_to_one or f.one_to_one)) or f.related_model is None:
            return None
        current = f.related_model
    return current


# --- which backup carries an entry (filled in by the backup app) -------------------------

_carrier: Callable[[Entry], str] | None = None


def register_backup_carrier(carrier: Callable[[Entry], str]) -> None:
    """`carrier(entry)` names the backup that carries the entry ("" when none does).

    The backup app (above governance) registers it in its ready(); check E004 and the
    registry page ask it, so they see the backup's real scope, not only the flag.
    """
    global _carrier
    _carrier = carrier


def backup_carrier(entry: Entry) -> str:
    """Which backup carries `entry`: the backup app's answer, else the `backup` flag's."""
    if _carrier is not None:
        return _carrier(entry)
    return "backups" if entry.backup else ""
