"""Every collaboration model is classified and in the admin."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from collaboration import services
from governance.registry import DataClass, entry_for_model
from tests.factories import UserFactory

from .helpers import make_project, make_thread, post

MODELS = list(apps.get_app_config("collaboration").get_models())


def test_every_model_is_registered_with_an_honest_class():
    classes = {m.__name__: entry_for_model(m) for m in MODELS}
    assert all(classes.values()), [k for k, v in classes.items() if v is None]
    assert classes["Comment"].data_class == DataClass.CRITICAL
    assert classes["Thread"].data_class == DataClass.CRITICAL
    event = classes["MessageEvent"]
    assert (event.data_class, event.append_only, event.immutable) == (
        DataClass.CRITICAL,
        True,
        True,
    )
    view = classes["Message"]
    assert view.data_class == DataClass.SEMI_CRITICAL and view.backup
    assert "rebuild" in view.reason
    assert classes["HistoricalComment"].immutable


@pytest.mark.parametrize(
    "model",
    [m for m in MODELS if not m.__name__.startswith("Historical")],
    ids=lambda m: m.__name__,
)
def test_model_is_in_the_admin_with_list_search_and_filters(model):
    model_admin = admin.site._registry.get(model)
    assert model_admin is not None
    assert model_admin.list_display and model_admin.search_fields and model_admin.list_filter
    if hasattr(model, "history"):
        assert hasattr(model_admin, "history_view")


@pytest.mark.django_db
def test_admin_pages_render_for_staff(world):
    thread = make_thread(world)
    message = post(thread, world.member, f"@{world.owner.handle}")
    comment = services.comment_create(
        workspace=world.workspace, project=make_project(world), body="c", actor=world.member
    )
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for model, obj in [("thread", thread), ("comment", comment), ("message", message)]:
        assert client.get(f"/admin/collaboration/{model}/").status_code == 200
        assert client.get(f"/admin/collaboration/{model}/{obj.pk}/change/").status_code == 200
    for model in ("messageevent", "notification"):
        assert client.get(f"/admin/collaboration/{model}/").status_code == 200
    assert client.get(f"/admin/collaboration/comment/{comment.pk}/history/").status_code == 200
