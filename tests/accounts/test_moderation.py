"""Seed 002 §7: the moderation log (append-only, immutable, audited, moderators only) and
risk profiles encrypted at rest (audited reads, key rotation, no plaintext anywhere)."""

import os
import subprocess
import uuid

import pytest
import zstandard
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from accounts import crypto, moderation, services
from accounts.models import (
    IdentityEvent,
    ModerationAction,
    RiskProfile,
    UserStatus,
)
from common.exceptions import Forbidden
from governance.immutability import is_immutable
from governance.models import AuditAction, AuditEvent
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.tenancy import api_client

KEY_A, KEY_B = crypto.generate_key(), crypto.generate_key()


@pytest.fixture
def keys(settings):
    settings.RISK_PROFILE_KEYS = [KEY_A]
    return settings


@pytest.fixture
def moderator(db):
    user = UserFactory()
    services.capability_grant(user=user, capability="moderate", actor=None)
    return user


def _refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as excinfo:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    return str(excinfo.value)


# --- moderation actions --------------------------------------------------------------------


def test_moderation_api_is_for_moderate_capability_holders_only(moderator):
    member, target = UserFactory(is_staff=True), UserFactory()
    body = {"user": target.handle, "type": "warn", "reason": "rude"}
    assert api_client(member).post("/api/v1/moderation/actions/", body).status_code == 403
    assert api_client(member).get("/api/v1/moderation/actions/").status_code == 403
    assert api_client().post("/api/v1/moderation/actions/", body).status_code in (401, 403)
    response = api_client(moderator).post("/api/v1/moderation/actions/", body)
    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == str(moderator.pk)
    listed = api_client(moderator).get(f"/api/v1/moderation/actions/?user={target.handle}")
    assert [a["type"] for a in listed.json()["results"]] == ["warn"]
    assert listed.json()["next"] is None
    bad = api_client(moderator).post(
        "/api/v1/moderation/actions/", {"user": target.handle, "type": "smite", "reason": ""}
    )
    assert bad.status_code == 400 and {"type", "reason"} <= set(bad.json())


def test_suspend_ban_restore_go_through_the_status_service_and_are_audited(moderator):
    target = UserFactory()
    moderation.moderation_action_create(
        actor=moderator, user=target, type="suspend", reason="spam wave"
    )
    target.refresh_from_db()
    assert target.status == UserStatus.SUSPENDED
    moderation.moderation_action_create(actor=moderator, user=target, type="restore", reason="ok")
    target.refresh_from_db()
    assert target.status == UserStatus.ACTIVE
    moderation.moderation_action_create(
        actor=moderator, user=target, type="ban", reason="abuse", reversible=False
    )
    target.refresh_from_db()
    assert target.status == UserStatus.BANNED
    with pytest.raises(Forbidden):
        moderation.moderation_action_create(
            actor=moderator, user=target, type="restore", reason="x"
        )
    events = IdentityEvent.objects.filter(user=target, kind="status")
    assert events.count() == 3 and all(e.actor == moderator for e in events)
    audits = AuditEvent.objects.filter(
        action=AuditAction.MODERATION, target_type="accounts.ModerationAction"
    )
    assert audits.count() == 3 and all(a.actor == moderator for a in audits)
    assert ModerationAction.objects.filter(user=target).count() == 3


def test_mute_is_recorded_and_restore_lifts_it(moderator):
    target = UserFactory()
    moderation.moderation_action_create(actor=moderator, user=target, type="mute", reason="flood")
    assert moderation.user_is_muted(target)
    moderation.moderation_action_create(actor=moderator, user=target, type="restore", reason="ok")
    assert not moderation.user_is_muted(target)


def test_moderators_cannot_act_on_themselves(moderator):
    with pytest.raises(Forbidden):
        moderation.moderation_action_create(
            actor=moderator, user=moderator, type="warn", reason="x"
        )


def test_the_moderation_log_is_immutable_in_the_database(moderator):
    target = UserFactory()
    moderation.moderation_action_create(actor=moderator, user=target, type="warn", reason="rude")
    assert is_immutable("accounts_moderationaction")
    assert "holdfast" in _refused("UPDATE accounts_moderationaction SET reason = 'nothing'")
    assert "holdfast" in _refused("DELETE FROM accounts_moderationaction")
    with pytest.raises(DatabaseError), transaction.atomic():
        ModerationAction.objects.all().delete()
    assert ModerationAction.objects.get().reason == "rude"


@pytest.mark.usefixtures("postgres_only")
def test_truncating_the_moderation_log_is_refused_on_postgresql(moderator):
    moderation.moderation_action_create(
        actor=moderator, user=UserFactory(), type="warn", reason="r"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert "holdfast" in _refused("TRUNCATE accounts_moderationaction, accounts_identityevent")


# --- risk profiles ----------------------------------------------------------------------------


def test_risk_profile_reads_are_moderator_only_and_audited(keys, moderator):
    target, other = UserFactory(), UserFactory()
    url = f"/api/v1/moderation/risk-profiles/{target.pk}/"
    body = {"risk_level": "guide", "signals": ["late-night contact"], "reason": "report #12"}
    assert api_client(other).put(url, body, format="json").status_code == 403
    assert api_client(moderator).put(url, body, format="json").status_code == 200
    assert api_client(other).get(url).status_code == 403
    reads = AuditEvent.objects.filter(data__read=True)
    before = reads.count()
    got = api_client(moderator).get(url)
    assert got.status_code == 200 and got.json()["signals"] == ["late-night contact"]
    assert reads.count() == before + 1 and reads.first().actor == moderator
    assert (
        api_client(moderator).get(f"/api/v1/moderation/risk-profiles/{uuid.uuid4()}/").status_code
        == 404
    )
    bad = api_client(moderator).put(url, {"risk_level": "panic", "signals": "x"}, format="json")
    assert bad.status_code == 400 and {"risk_level", "signals", "reason"} <= set(bad.json())


def test_a_missing_or_wrong_key_raises_and_never_returns_ciphertext(keys, moderator):
    target = UserFactory()
    moderation.risk_profile_set(
        actor=moderator, user=target, risk_level="protect", signals=["s1"], reason="r"
    )
    keys.RISK_PROFILE_KEYS = [KEY_B]
    with pytest.raises(crypto.KeyUnavailable):
        moderation.risk_profile_read(actor=moderator, user=target)
    response = api_client(moderator).get(f"/api/v1/moderation/risk-profiles/{target.pk}/")
    assert response.status_code == 503 and "hf1:" not in response.content.decode()
    keys.RISK_PROFILE_KEYS = []
    with pytest.raises(crypto.KeyUnavailable):
        moderation.risk_profile_read(actor=moderator, user=target)
    with pytest.raises(crypto.KeyUnavailable):
        moderation.risk_profile_set(
            actor=moderator, user=target, risk_level="guide", signals=[], reason="r"
        )


def test_ciphertext_is_bound_to_its_row(keys, moderator):
    a, b = UserFactory(), UserFactory()
    pa = moderation.risk_profile_set(
        actor=moderator, user=a, risk_level="guide", signals=["x"], reason="r"
    )
    pb = moderation.risk_profile_set(
        actor=moderator, user=b, risk_level="guide", signals=["y"], reason="r"
    )
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt_json(pa.signals_ciphertext, row_id=pb.pk)
    # A tampered token does not decrypt either.
    tampered = pa.signals_ciphertext[:-6] + (
        "AAAA==" if not pa.signals_ciphertext.endswith("AAAA==") else "BBBB=="
    )
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt_json(tampered, row_id=pa.pk)


def test_rotation_re_encrypts_in_batches_and_every_profile_stays_readable(keys, moderator):
    users = [UserFactory() for _ in range(7)]
    for i, u in enumerate(users):
        moderation.risk_profile_set(
            actor=moderator, user=u, risk_level="monitor", signals=[f"signal-{i}"], reason="r"
        )
    keys.RISK_PROFILE_KEYS = [KEY_B, KEY_A]  # new key first, old one still configured
    for i, u in enumerate(users):  # readable mid-rotation: zero read failures
        assert moderation.risk_profile_read(actor=moderator, user=u)["signals"] == [f"signal-{i}"]
    call_command("rotate_risk_keys", "--batch-size", "3")
    assert all(
        not crypto.needs_rotation(t)
        for t in RiskProfile.objects.values_list("signals_ciphertext", flat=True)
    )
    keys.RISK_PROFILE_KEYS = [KEY_B]  # old key retired
    for i, u in enumerate(users):
        assert moderation.risk_profile_read(actor=moderator, user=u)["signals"] == [f"signal-{i}"]
    assert AuditEvent.objects.filter(
        summary__startswith="risk-profile keys rotated: 7 of 7"
    ).exists()


MARKER = "plaintext-signal-7f3a9c"


def _fill(moderator):
    target = UserFactory()
    ws = WorkspaceFactory()
    MembershipFactory(team=ws.team, user=target)
    MembershipFactory(team=ws.team, user=moderator)
    moderation.risk_profile_set(
        actor=moderator,
        user=target,
        risk_level="intervene",
        signals=[MARKER, {"note": MARKER}],
        reason="r",
    )
    moderation.risk_profile_set(
        actor=moderator, user=target, risk_level="protect", signals=[MARKER], reason="r2"
    )
    return ws


def _scan_database() -> int:
    hits = 0
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if connection.vendor == "postgresql":
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s', [f"%{MARKER}%"]
                )  # noqa: S608
                hits += cursor.fetchone()[0]
            else:
                cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
                hits += sum(MARKER in repr(row) for row in cursor.fetchall())
    return hits


def test_no_plaintext_signal_in_any_table_or_workspace_backup(keys, moderator):
    from durability import services as durability

    ws = _fill(moderator)
    assert RiskProfile.objects.count() == 1
    assert _scan_database() == 0
    record = durability.backup_create(workspace=ws)
    from durability.archive import backup_storage

    storage = backup_storage()
    _, files = storage.listdir(f"{record.backup_id}/parts")
    assert files
    for name in files:
        with storage.open(f"{record.backup_id}/parts/{name}", "rb") as fh:
            data = zstandard.ZstdDecompressor().stream_reader(fh).read()
        assert MARKER.encode() not in data, name


@pytest.mark.django_db(transaction=True)
def test_no_plaintext_signal_in_a_full_database_dump(keys, tmp_path):
    moderator = UserFactory()
    services.capability_grant(user=moderator, capability="moderate", actor=None)
    _fill(moderator)
    dump = tmp_path / "dump.sql"
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        subprocess.run(  # noqa: S603
            [
                "pg_dump",
                "-h",
                params["HOST"] or "127.0.0.1",
                "-U",
                params["USER"] or "postgres",
                "-p",
                str(params["PORT"] or 5432),
                "-f",
                str(dump),
                params["NAME"],
            ],
            check=True,
            env={**os.environ, "PGPASSWORD": params.get("PASSWORD") or ""},
        )
    else:
        connection.ensure_connection()
        dump.write_text("\n".join(connection.connection.iterdump()))
    text = dump.read_text()
    assert "accounts_riskprofile" in text and "hf1:" in text
    assert MARKER not in text
