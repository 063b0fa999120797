"""What the durability services share: the progress callback, model keys, the content digest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import models

from durability import archive
from governance import registry

Progress = Callable[[dict[str, Any]], None] | None


def emit(progress: Progress, **event: Any) -> None:
    if progress is not None:
        progress(event)


def model_key(model: type[models.Model]) -> str:
    """ "app_label.ModelName" of the concrete model (the registry's key)."""
    concrete = model._meta.concrete_model or model
    return f"{concrete._meta.app_label}.{concrete.__name__}"


def entry_model(entry: registry.Entry) -> type[models.Model]:
    """The model of a model entry (the backup scope holds only model entries)."""
    model = entry.model
    if model is None:
        raise TypeError(f"{entry.key} is a {entry.kind} entry, not a model")
    return model


def fk_fields(model: type[models.Model]) -> list[models.ForeignKey]:
    """The model's many-to-one and one-to-one fields (both are ForeignKeys)."""
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.ForeignKey) and f.related_model is not None
    ]


def related_model(field: models.ForeignKey) -> type[models.Model]:
    """The model a foreign key points at, resolved (the app registry is ready here)."""
    target = field.related_model
    if not isinstance(target, type):
        raise TypeError(f"{field} points at an unresolved model {target!r}")
    return target


class Digest:
    """The content digest of a part's JSON lines, fed as blocks pass through."""

    def __init__(self) -> None:
        self.sha = archive.content_digest()

    def watch(self, blocks: Iterable[bytes]) -> Iterator[bytes]:
        for block in blocks:
            self.sha.update(block)
            yield block

    def hexdigest(self) -> str:
        return self.sha.hexdigest()
