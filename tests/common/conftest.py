"""Fixtures for kernel tests: a private LOG_DIR, never the shared data folder."""

import pytest


@pytest.fixture(autouse=True)
def _private_log_dir(settings, tmp_path):
    settings.LOG_DIR = tmp_path / "data" / "logs"
    return tmp_path
