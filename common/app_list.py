"""Holdfast's own apps, bottom layer first: the one list `INSTALLED_APPS` is built from.

The order is the layering that import-linter checks (`pyproject.toml`): an app may import
only the apps before it. `app_modules()` finds each app's optional modules (`api.urls`,
`urls`, `schedule`, `materialized`) so that adding an app never means editing config.
"""

from importlib import import_module
from importlib.util import find_spec

LOCAL_APPS = [
    "common",
    "governance",
    "accounts",
    "workspaces",
    "collaboration",
    "deployments",
    "vectors",
    "billing",
    "durability",
]


def module_exists(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def app_modules(suffix: str) -> list[str]:
    """The `<app>.<suffix>` modules that exist, e.g. `accounts.api.urls`, in layer order."""
    return [f"{app}.{suffix}" for app in LOCAL_APPS if module_exists(f"{app}.{suffix}")]


def collect_beat_schedule() -> dict:
    """Every app's `schedule.BEAT_SCHEDULE` merged: adding a periodic job never edits config."""
    schedule: dict = {}
    for module_name in app_modules("schedule"):
        schedule.update(getattr(import_module(module_name), "BEAT_SCHEDULE", {}))
    return schedule
