"""The one door other apps' services use to ask billing whether one more is allowed.

It imports `billing.services` at call time because billing's services import the models
of the apps that call this (workspaces, accounts, deployments).
"""


def enforce(limit: str, **context) -> None:
    """Raise PaymentRequired (402, naming the limit) when one more `limit` is over the plan."""
    from billing.services import entitlement_enforce

    entitlement_enforce(limit=limit, **context)
