"""Fixtures for the knowledge tests: isolated storage and the real offline embedder."""

import pytest

from tests.factories import ProjectFactory
from vectors.embeddings import get_embedder


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Files go to a fresh folder per test, never to the shared data dir."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


@pytest.fixture
def embedder():
    """The process's real embedder (wordllama, offline) with its call counters reset."""
    e = get_embedder()
    e.calls = e.texts = 0
    return e


@pytest.fixture
def project(db):
    return ProjectFactory()
