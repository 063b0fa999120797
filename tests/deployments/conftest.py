"""Fixtures for the shipping-pipeline tests: isolated storage, fake adapters, a project."""

import shutil
import tempfile
from pathlib import Path

import pytest

from deployments.adapters import github, provider
from tests.factories import ProjectFactory

from .fakes import FakeGitHub, FakeProvider


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Blobs go to a fresh folder per test, never to the shared data dir."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    # Under /tmp itself: bubblewrap runs as an unprivileged user, who cannot pass through
    # pytest's private (0700) tmp_path.
    sandbox_root = tempfile.mkdtemp(prefix="holdfast-test-sandbox-")
    Path(sandbox_root).chmod(0o711)
    settings.SANDBOX_ROOT = sandbox_root
    yield tmp_path / "media"
    shutil.rmtree(sandbox_root, ignore_errors=True)


@pytest.fixture(autouse=True)
def fake_github():
    fake = FakeGitHub()
    github.set_adapter(fake)
    yield fake
    github.set_adapter(None)


@pytest.fixture(autouse=True)
def fake_provider():
    fake = FakeProvider()
    provider.set_adapter(fake)
    yield fake
    provider.set_adapter(None)


@pytest.fixture
def project(world):
    return ProjectFactory(workspace=world.workspace)
