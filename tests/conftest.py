"""Shared fixtures."""

import pytest
from django.db import connection

from common.testing import api_client, make_tenant_world


@pytest.fixture
def world(db):
    return make_tenant_world()


@pytest.fixture
def client_for():
    return api_client


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (runs in the DATABASE_URL leg of .ci/run)")
