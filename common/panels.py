"""The page-panels port: a lower app's page shows sections that higher apps fill in.

The workspace and project pages belong to `workspaces`, yet they show chat presence
(collaboration), previews and deployments (deployments) and backup health (durability),
apps above it. Those apps register a panel here in their `ready()`; the page asks for the
panels of its slot and renders each one's template with the context its provider returns.
A provider is a normal page function: it calls the owning app's selectors, nothing else.

Slots: "header" (every /w/ page: e.g. the unread badge), "workspace" (`/w/<slug>/`),
"project" (`/w/<slug>/p/<project_slug>/`), "settings" (`/w/<slug>/settings/`),
"artifact" (an artifact's page `/w/<slug>/p/<project_slug>/artifacts/<id>/`, owned by
deployments; page objects project=..., artifact=...: vectors lists its citations there).
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    slot: str
    name: str  # the section's id in the page, e.g. "comments"
    title: str
    template: str
    # provider(request, access, **page) -> dict; `page` holds the slot's objects
    # (project=..., forms={name: bound form} when a POST failed) and is passed through.
    provider: Callable[..., dict]
    order: int = 100
    # A lazy panel is left out of the page's first response: the page shows a placeholder
    # that fetches `/w/<slug>/panels/<name>/` once loaded (htmx), so a secondary section
    # never delays the page. The placeholder holds `fallback_url`, a plain link to the
    # section's own page, for browsers without JavaScript.
    lazy: bool = False
    fallback_url: str = ""


_panels: dict[str, dict[str, Panel]] = {}


def register(panel: Panel) -> None:
    """Add (or replace, by name) a panel of `panel.slot`."""
    _panels.setdefault(panel.slot, {})[panel.name] = panel


def panels(slot: str) -> list[Panel]:
    return sorted(_panels.get(slot, {}).values(), key=lambda p: (p.order, p.name))


@dataclass(frozen=True)
class RenderedPanel:
    panel: Panel
    context: dict


def render_slot(slot: str, request, access, **page) -> list[RenderedPanel]:
    """Every panel of `slot` in order, with its provider's context (a lazy one: none yet)."""
    return [
        RenderedPanel(p, {} if p.lazy else p.provider(request, access, **page))
        for p in panels(slot)
    ]


def render_panel(slot: str, name: str, request, access, **page) -> RenderedPanel:
    """One panel of `slot` by name with its provider's context (KeyError if unknown)."""
    panel = _panels[slot][name]
    return RenderedPanel(panel, panel.provider(request, access, **page))
