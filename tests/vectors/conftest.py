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


@pytest.fixture(scope="session")
def pgvector_alias(django_db_blocker):
    """A Django connection alias to a PostgreSQL that has pgvector (see pgvector_server)."""
    from . import pgvector_server

    with django_db_blocker.unblock():
        config, server = pgvector_server.start()
        alias = pgvector_server.register(config)
    yield alias
    with django_db_blocker.unblock():
        pgvector_server.stop(server)
