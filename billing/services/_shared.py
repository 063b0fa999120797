"""What the billing services share: the team lock and the history-tracked save."""

from __future__ import annotations

from accounts.models import Team
from governance.history import save_tracked

# The longest idempotency key the credit ledger's column holds (the API base allows the same).
IDEMPOTENCY_KEY_MAX = 200


def lock_team(team: Team) -> None:
    """Serialise a team's limit checks and ledger writes (row lock on PostgreSQL; on SQLite
    every write transaction is BEGIN IMMEDIATE, which serialises writers already)."""
    Team.objects.select_for_update().filter(pk=team.pk).values_list("pk", flat=True).first()


def save_checked(obj, *, actor, reason: str, update_fields=None) -> None:
    """Validate the row, then save it with its history attributed to `actor` and `reason`."""
    obj.full_clean()
    save_tracked(obj, actor=actor, reason=reason, update_fields=update_fields)
