"""Fixtures for governance tests: a registry that deliberately bad registrations cannot outlive."""

import pytest

from governance import registry


@pytest.fixture
def scratch_registry():
    """Yield the registry; every registration made or removed during the test is undone."""
    models_before = dict(registry._models)
    stores_before = dict(registry._stores)
    yield registry
    registry._models.clear()
    registry._models.update(models_before)
    registry._stores.clear()
    registry._stores.update(stores_before)
