"""Picks the settings module from DJANGO_ENV (local, production, test)."""

import os


def settings_module() -> str:
    return {
        "production": "config.settings.production",
        "test": "config.settings.test",
    }.get(os.environ.get("DJANGO_ENV", "local"), "config.settings.local")


def configure() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module())
