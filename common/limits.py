"""The limits port: lower apps ask "may one more be created?" without importing billing.

Billing counts rows of the apps below it, so those apps cannot import billing. Instead
billing registers its enforcer here in `BillingConfig.ready()`, and services call
`enforce("seats", team=team)`. With no enforcer registered the port refuses to answer
rather than letting everything through: a missing plan check is a bug, not "unlimited".
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

Enforcer = Callable[..., None]

_enforcer: Enforcer | None = None


def register(enforcer: Enforcer) -> None:
    """Install the function that raises when one more `limit` is over the plan."""
    global _enforcer
    _enforcer = enforcer


def enforce(limit: str, **context) -> None:
    """Raise PaymentRequired (402, naming the limit) when one more `limit` is over the plan."""
    if _enforcer is None:
        raise ImproperlyConfigured("No plan-limit enforcer is registered (is billing installed?).")
    _enforcer(limit=limit, **context)
