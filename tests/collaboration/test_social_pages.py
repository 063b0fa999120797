"""The social page (/social/) and the moderation pages (/moderation/…)."""

import pytest
from django.conf import settings

from accounts import graph, moderation, services
from accounts.crypto import generate_key
from accounts.models import ModerationAction
from governance.models import AuditEvent
from tests.factories import UserFactory
from tests.pages import signed_in

pytestmark = pytest.mark.django_db


def test_social_page_shows_the_projection_and_writes_through_the_service(world):
    client = signed_in(world.member)
    assert client.get("/social/").status_code == 200
    response = client.post("/social/", {"to": world.admin.handle, "type": "friend"})
    assert response.status_code == 302
    signed_in(world.admin).post("/social/", {"to": world.member.handle, "type": "friend"})
    page = client.get("/social/").content.decode()
    assert f"@{world.admin.handle}" in page and "1 friend " in page
    bad = client.post("/social/", {"to": "nobody-here", "type": "follow"})
    assert bad.status_code == 400 and "nobody-here" in bad.content.decode()  # keeps input
    client.post(f"/social/friend/{world.admin.pk}/remove/")
    assert graph.projection_get(world.member.pk)["friends"] == []


def test_social_page_needs_sign_in(client):
    response = client.get("/social/")
    assert response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL)


def test_moderation_queue_is_for_moderators_and_records_actions(settings):
    settings.RISK_PROFILE_KEYS = [generate_key()]
    mod, target, member = UserFactory(), UserFactory(), UserFactory()
    services.capability_grant(user=mod, capability="moderate", actor=None)
    assert signed_in(member).get("/moderation/").status_code == 403
    client = signed_in(mod)
    assert client.get("/moderation/").status_code == 200
    response = client.post(
        "/moderation/",
        {"user": target.handle, "type": "warn", "reason": "rude", "reversible": "on"},
    )
    assert response.status_code == 302
    assert ModerationAction.objects.get().created_by == mod
    bad = client.post("/moderation/", {"user": target.handle, "type": "warn", "reason": ""})
    assert bad.status_code == 400
    moderation.risk_profile_set(
        actor=mod, user=target, risk_level="guide", signals=["night-time contact"], reason="r"
    )
    assert "Review signals" in client.get("/moderation/").content.decode()
    before = AuditEvent.objects.filter(data__read=True).count()
    page = client.get(f"/moderation/risk/{target.pk}/")
    assert page.status_code == 200 and "night-time contact" in page.content.decode()
    assert AuditEvent.objects.filter(data__read=True).count() == before + 1
    assert signed_in(member).get(f"/moderation/risk/{target.pk}/").status_code == 403
