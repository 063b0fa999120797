"""The knowledge models in the admin: listed, searchable, filtered, read-only; the recall
audit shows its flag."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from tests.factories import ProjectFactory, UserFactory
from vectors.models import RecallAudit


def test_every_vectors_model_is_in_the_admin_read_only():
    for model in apps.get_app_config("vectors").get_models():
        if model.__name__.startswith("Historical"):
            continue
        model_admin = admin.site._registry.get(model)
        assert model_admin is not None, model.__name__
        assert model_admin.search_fields and model_admin.list_filter, model.__name__
        assert not model_admin.has_delete_permission(None), model.__name__
        assert not model_admin.has_add_permission(None), model.__name__


@pytest.mark.django_db
def test_admin_pages_render_and_flag_low_recall():
    staff = UserFactory(is_staff=True, is_superuser=True)
    project = ProjectFactory()
    RecallAudit.objects.create(
        project=project,
        namespace=f"project:{project.pk}:chunks",
        backend="pgvector",
        k=10,
        queries=20,
        recall=0.81,
        threshold=0.95,
        flagged=True,
    )
    client = Client()
    client.force_login(staff)
    for model in apps.get_app_config("vectors").get_models():
        if model.__name__.startswith("Historical"):
            continue
        url = f"/admin/vectors/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
        assert client.get(url, {"q": "x"}).status_code == 200, url
    page = client.get("/admin/vectors/recallaudit/").content.decode()
    assert "0.810 ⚠ below threshold" in page
    for name in ("projectfile", "projectskill"):
        assert client.get(f"/admin/workspaces/{name}/").status_code == 200
