"""A real `materialized` module for testing the views-rebuild dispatch (no mocks)."""

VIEWS_VERSION = 7
calls: list = []


def rebuild(workspace=None) -> int:
    calls.append(workspace)
    return 3
