"""The AI-credits port: lower apps spend credits without importing billing.

Billing fills it in `BillingConfig.ready()`; `spend(workspace=..., amount=...,
idempotency_key=...)` raises PaymentRequired (402) when the balance is short, and a retry
with the same key spends nothing twice. With nothing registered the port refuses: an AI
call that nobody pays for is a bug, not "free".
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

Spender = Callable[..., None]

_spender: Spender | None = None


def register(spender: Spender | None) -> None:
    global _spender
    _spender = spender


def spend(*, workspace, amount: int, idempotency_key: str, note: str = "") -> None:
    if _spender is None:
        raise ImproperlyConfigured("No AI-credit spender is registered (is billing installed?).")
    _spender(workspace=workspace, amount=amount, idempotency_key=idempotency_key, note=note)
