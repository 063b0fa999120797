"""Registry entries for the account stores Holdfast keeps but does not model itself:
django-axes' attempt tables and the outgoing-mail folder."""

from django.conf import settings

from governance.registry import GLOBAL, DataClass, register_model, register_store

_AXES_REASON = "Failed sign-in attempts (django-axes); losing them only resets the rate limit."
_AXES_CLEANUP = "accounts.prune_login_attempts"
for _label, _reason in (
    ("axes.AccessAttempt", _AXES_REASON),
    ("axes.AccessAttemptExpiration", "Expiry times of axes.AccessAttempt rows."),
    ("axes.AccessFailureLog", "Per-attempt failure log (AXES_ENABLE_ACCESS_FAILURE_LOG, off)."),
    ("axes.AccessLog", "Successful-login log (off: AXES_DISABLE_ACCESS_LOG is true)."),
):
    register_model(
        _label,
        DataClass.EPHEMERAL,
        tenant=GLOBAL,
        reason=_reason,
        cleanup=_AXES_CLEANUP,
        backup=False,
    )

register_store(
    "accounts.outgoing_mail",
    DataClass.EPHEMERAL,
    storage="HOLDFAST_DATA_DIR/mail/*.log (Django's file email backend; SMTP with EMAIL_URL)",
    reason="Copies of outgoing email on the embedded default (invitations, password resets); "
    "the invitation or reset itself lives in the database.",
    ttl=settings.MAIL_RETENTION_DAYS * 86400,
    cleanup="accounts.prune_mail",
)

register_store(
    "accounts.graph_projection",
    DataClass.EPHEMERAL,
    storage="Django cache (Redis with REDIS_URL, in-process otherwise): graph_projection:{user_id}",
    reason="Per-user social-graph projection (seed 002 §3), rebuilt from the authoritative "
    "edges after every write; disposable.",
    ttl=settings.GRAPH_PROJECTION_TTL_SECONDS,
)
