"""Fixtures for billing tests: private .cache and log folders, plans with chosen limits."""

import pytest

from billing import services
from billing.models import Plan


@pytest.fixture(autouse=True)
def _private_dirs(settings, tmp_path):
    """Every test gets its own `.cache/` and LOG_DIR, never the shared data folder."""
    settings.CACHE_DIR = tmp_path / "data" / ".cache"
    settings.LOG_DIR = tmp_path / "data" / "logs"
    return tmp_path


@pytest.fixture
def entitle(db):
    """entitle(team, actor=None, **limits): give `team` a plan with exactly these limits
    (others unlimited), through the entitlement service."""
    counter = {"n": 0}

    def grant(team, actor=None, **limits):
        counter["n"] += 1
        plan = Plan(code=f"test-{counter['n']}", name=f"Test plan {counter['n']}", **limits)
        services.plan_save(plan=plan, actor=actor)
        return services.entitlement_grant(team=team, plan=plan, actor=actor, note="test plan")

    return grant
