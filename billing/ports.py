"""What billing plugs into the ports of the apps below it (see `common/credits.py`)."""

from .services.credits import credits_spend


def spend_workspace_credits(
    *, workspace, amount: int, idempotency_key: str, note: str = ""
) -> None:
    """Spend a workspace's AI credits from its team's ledger (402 when short)."""
    credits_spend(
        team=workspace.team,
        amount=amount,
        idempotency_key=idempotency_key,
        workspace=workspace,
        note=note,
    )
