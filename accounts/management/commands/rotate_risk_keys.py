"""Re-encrypt every risk profile with the current key (the first of RISK_PROFILE_KEYS).

Put the new key first, keep the old ones after it, run this, then drop the old keys.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts import crypto
from accounts.moderation import risk_profiles_rotate
from governance.history import history_context


class Command(BaseCommand):
    help = "Re-encrypt risk-profile signals with the current RISK_PROFILE_KEYS key, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            with history_context(actor=None, reason="command rotate_risk_keys"):
                result = risk_profiles_rotate(batch_size=options["batch_size"])
        except crypto.CryptoError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Re-encrypted {result['rotated']} of {result['seen']} risk profiles with key "
            f"{crypto.keyring()[0].key_id}."
        )
