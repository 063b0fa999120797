"""Every /api/v1/workspaces/{slug}/… route is proven by a tenancy contract class.

The test walks the URL resolver, imports every test module, and collects the `routes`
each `TenancyContract` subclass names; a tenant route no class names fails the build.
"""

import importlib
import pkgutil
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

import tests
from tests.tenancy import TenancyContract

TENANT_PREFIX = "api/v1/workspaces/<slug:workspace_slug>/"


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
            yield prefix + str(pattern.pattern), name


def tenant_routes() -> dict[str, str]:
    return {
        name: path
        for path, name in _walk(get_resolver().url_patterns)
        if path.startswith(TENANT_PREFIX)
    }


def contract_classes() -> list[type]:
    root = Path(tests.__file__).parent
    for module in pkgutil.walk_packages([str(root)], prefix="tests."):
        if module.name.rsplit(".", 1)[-1].startswith("test_") or module.ispkg:
            importlib.import_module(module.name)
    found, stack = [], [TenancyContract]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


def test_every_tenant_route_has_a_contract():
    routes = tenant_routes()
    assert len(routes) > 20, routes  # the walk found the API
    proven = {name for cls in contract_classes() for name in cls.routes}
    missing = sorted(f"{name}  ({path})" for name, path in routes.items() if name not in proven)
    assert not missing, "tenant routes without a tenancy contract:\n" + "\n".join(missing)


def test_contract_routes_exist():
    routes = tenant_routes()
    named = {name for cls in contract_classes() for name in cls.routes}
    assert not named - set(routes), (
        f"contracts name routes that do not exist: {named - set(routes)}"
    )
