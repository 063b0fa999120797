"""Seed 002 §1: age layers, identity events (immutable), identity fields fixed in the database,
capabilities granted, checked and revoked with history."""

import pytest
from django.db import DatabaseError, connection, transaction

from accounts import identity, selectors, services
from accounts.identity_triggers import identity_trigger_installed
from accounts.models import (
    AgeLayer,
    Capability,
    CapabilityName,
    IdentityEvent,
    User,
    UserStatus,
)
from governance.immutability import is_immutable
from governance.models import AuditEvent
from tests.factories import UserFactory
from tests.tenancy import api_client

pytestmark = pytest.mark.django_db


def _refused(sql: str, params=None) -> str:
    with pytest.raises(DatabaseError) as excinfo:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    return str(excinfo.value)


def test_new_users_are_adults_unverified_and_indexed():
    user = UserFactory()
    assert user.age_layer == AgeLayer.ADULT and user.verified_at is None
    names = {i.name for i in User._meta.indexes}
    assert {"user_status", "user_age_layer"} <= names
    with connection.cursor() as cursor:
        found = {
            c
            for c, info in connection.introspection.get_constraints(cursor, "accounts_user").items()
            if info["index"]
        }
    assert {"user_status", "user_age_layer"} <= found


def test_age_layer_change_appends_an_event_with_actor_and_reason():
    mod, user = UserFactory(), UserFactory()
    identity.user_set_age_layer(user=user, age_layer="minor", actor=mod, reason="parent report")
    user.refresh_from_db()
    assert user.age_layer == AgeLayer.MINOR
    event = IdentityEvent.objects.get(user=user)
    assert (event.kind, event.old_value, event.new_value) == ("age_layer", "adult", "minor")
    assert event.actor == mod and event.reason == "parent report"
    assert user.history.first().history_change_reason == "parent report"
    # Same layer again: no new event.
    identity.user_set_age_layer(user=user, age_layer="minor", actor=mod, reason="again")
    assert IdentityEvent.objects.filter(user=user).count() == 1


def test_age_layer_change_needs_a_valid_layer_and_a_reason():
    user = UserFactory()
    with pytest.raises(services.ValidationFailed):
        identity.user_set_age_layer(user=user, age_layer="toddler", actor=None, reason="x")
    with pytest.raises(services.ValidationFailed):
        identity.user_set_age_layer(user=user, age_layer="minor", actor=None, reason=" ")
    assert not IdentityEvent.objects.exists()


def test_status_change_and_verification_append_events():
    user = UserFactory()
    services.user_set_status(user=user, status=UserStatus.SUSPENDED, actor=None, reason="spam")
    identity.user_mark_verified(user=user, actor=None, reason="document checked")
    kinds = sorted(IdentityEvent.objects.filter(user=user).values_list("kind", flat=True))
    assert kinds == ["status", "verified"]
    user.refresh_from_db()
    assert user.verified_at is not None


def test_identity_events_are_immutable_in_the_database():
    user = UserFactory()
    identity.user_set_age_layer(user=user, age_layer="transitional", actor=None, reason="birthday")
    assert is_immutable("accounts_identityevent")
    assert "holdfast" in _refused("UPDATE accounts_identityevent SET reason = 'rewritten'")
    assert "holdfast" in _refused("DELETE FROM accounts_identityevent")
    with pytest.raises(DatabaseError), transaction.atomic():
        IdentityEvent.objects.update(reason="rewritten")
    assert IdentityEvent.objects.get().reason == "birthday"


def test_identity_fields_are_fixed_by_the_database_trigger():
    user = UserFactory(handle="fixed")
    assert identity_trigger_installed()
    assert "holdfast" in _refused(
        "UPDATE accounts_user SET handle = 'other' WHERE handle = 'fixed'"
    )
    assert "holdfast" in _refused(
        "UPDATE accounts_user SET created_at = %s WHERE handle = 'fixed'", ["2000-01-01 00:00:00"]
    )
    # Other fields still change; rewriting a handle with its own value is not a change.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET display_name = 'New', handle = handle")
    user.refresh_from_db()
    assert (user.handle, user.display_name) == ("fixed", "New")
    user.display_name = "Full save"
    user.save()  # a full-row save writes the unchanged identity fields: allowed


def test_capabilities_are_granted_checked_and_revoked_with_history():
    staff, user = UserFactory(is_staff=True), UserFactory()
    assert not selectors.capability_has(user=user, capability=CapabilityName.MODERATE)
    with pytest.raises(services.Forbidden):
        selectors.capability_require(user=user, capability=CapabilityName.MODERATE)
    services.capability_grant(user=user, capability="moderate", actor=staff, reason="on call")
    assert selectors.capability_has(user=user, capability=CapabilityName.MODERATE)
    assert services.capability_revoke(user=user, capability="moderate", actor=staff)
    assert not selectors.capability_has(user=user, capability=CapabilityName.MODERATE)
    history = Capability.history.filter(user_id=user.pk).order_by("history_date")
    assert [h.history_type for h in history] == ["+", "-"]
    assert all(h.history_user == staff for h in history)
    audits = AuditEvent.objects.filter(data__capability="moderate").order_by("created_at")
    assert [(a.data["granted"], a.actor) for a in audits] == [(True, staff), (False, staff)]
    # A suspended holder loses the capability's effect at once.
    services.capability_grant(user=user, capability="moderate", actor=staff)
    services.user_set_status(user=user, status=UserStatus.SUSPENDED, actor=staff, reason="x")
    assert not selectors.capability_has(user=user, capability=CapabilityName.MODERATE)


def test_capability_api_is_staff_only():
    staff, member, user = UserFactory(is_staff=True), UserFactory(), UserFactory()
    body = {"user": user.handle, "capability": "moderate"}
    assert api_client(member).post("/api/v1/capabilities/", body).status_code == 403
    assert api_client().post("/api/v1/capabilities/", body).status_code in (401, 403)
    response = api_client(staff).post("/api/v1/capabilities/", body)
    assert response.status_code == 201, response.content
    bad = api_client(staff).post("/api/v1/capabilities/", {"user": "nobody", "capability": "x"})
    assert bad.status_code == 400 and {"user", "capability"} & set(bad.json())
    mine = api_client(user).get("/api/v1/me/capabilities/").json()
    assert [c["capability"] for c in mine] == ["moderate"]
    url = f"/api/v1/capabilities/{user.pk}/moderate/"
    assert api_client(member).delete(url).status_code == 403
    assert api_client(staff).delete(url).status_code == 204
    assert api_client(staff).delete(url).status_code == 404
