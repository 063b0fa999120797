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


@pytest.fixture
def eager_celery():
    """Run tasks in the caller (the sync a webhook queues runs when the request commits)."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def git_repo(tmp_path):
    from .gitrepo import GitRepo

    return GitRepo(tmp_path / "novel.git")


@pytest.fixture
def connected(project, world, git_repo):
    """The project's repository of record: a local bare repository (`provider: "git"`)."""
    from deployments import services

    return services.repo_connect(
        project=project, provider="git", owner="author", name="novel",
        clone_url=git_repo.url, actor=world.member,
    )  # fmt: skip
