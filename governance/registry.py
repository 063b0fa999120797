"""The data-class registry: every model and every non-database store, classified.

One mechanism everywhere: the `@data_class(...)` decorator next to a model,
`register_model("app_label.Model", ...)` for third-party models, and
`register_store(...)` for files, Redis key families and log folders. Historical
(django-simple-history) models inherit their base model's entry as append-only
and immutable. Other code asks questions through the functions at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable
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

    @property
    def model(self) -> type[models.Model] | None:
        if self.kind != "model":
            return None
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
    )
    _stores[name] = entry
    return entry


def unregister(key: str) -> None:
    """Remove an entry (tests that register deliberately bad examples clean up with this)."""
    _models.pop(key, None)
    _stores.pop(key, None)


# --- questions ------------------------------------------------------------


def _historical_entry(model: type[models.Model]) -> Entry | None:
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


def entry_for_model(model: type[models.Model]) -> Entry | None:
    model = model._meta.concrete_model
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
            if (f.many_to_one or f.one_to_one) and f.concrete and f.related_model is not None:
                target = _model_key(f.related_model._meta.concrete_model)
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
