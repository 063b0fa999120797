"""Holdfast's own apps, in dependency order, and a helper to find their optional modules."""

from importlib.util import find_spec

LOCAL_APPS = [
    "accounts",
    "workspaces",
    "governance",
    "governance.durability",
    "collaboration",
    "deployments",
    "billing",
    "vectors",
]


def module_exists(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def app_modules(suffix: str) -> list[str]:
    """The `<app>.<suffix>` modules that exist, e.g. `accounts.api.urls`."""
    return [f"{app}.{suffix}" for app in LOCAL_APPS if module_exists(f"{app}.{suffix}")]
