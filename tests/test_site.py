"""Home page, admin registrations and the OpenAPI schema."""

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from openapi_spec_validator import validate

from tests.factories import ProjectFactory, UserFactory


@pytest.mark.django_db
def test_home_page_links_docs_admin_and_login():
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for link in ("/api/docs/", "/admin/", settings.LOGIN_URL):
        assert f'href="{link}' in html


@pytest.mark.django_db
def test_schema_is_valid_openapi_3():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert "/api/v1/auth/me/" in schema["paths"]
    assert "/api/v1/workspaces/{workspace_slug}/projects/" in schema["paths"]
    assert "/api/v1/teams/{team_id}/billing/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/workspaces/{workspace_slug}/kpi/"]


@pytest.mark.django_db
def test_swagger_ui_is_served_from_local_static_files():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in response.content.decode()


@pytest.mark.parametrize("label", ["accounts", "workspaces", "billing"])
def test_every_model_is_in_the_admin_with_list_search_and_filters(label):
    for model in apps.get_app_config(label).get_models():
        if model.__name__.startswith("Historical"):
            continue
        model_admin = admin.site._registry.get(model)
        assert model_admin is not None, f"{model.__name__} is not in the admin"
        assert model_admin.list_display != ("__str__",), model.__name__
        assert model_admin.search_fields, model.__name__
        assert model_admin.list_filter, model.__name__
        if hasattr(model, "history"):
            assert hasattr(model_admin, "history_view"), model.__name__


@pytest.mark.django_db
def test_admin_pages_render_for_staff():
    staff = UserFactory(is_staff=True, is_superuser=True)
    project = ProjectFactory()
    client = Client()
    client.force_login(staff)
    for label in ("accounts", "workspaces", "billing"):
        for model in apps.get_app_config(label).get_models():
            if model.__name__.startswith("Historical"):
                continue
            url = f"/admin/{label}/{model._meta.model_name}/"
            assert client.get(url).status_code == 200, url
            assert client.get(url, {"q": "x"}).status_code == 200, url
    history = client.get(f"/admin/workspaces/project/{project.pk}/history/")
    assert history.status_code == 200


def test_spectacular_validates(tmp_path):
    """drf-spectacular validates the schema and fails on any warning (an unannotated view,
    a name collision, an unresolvable serializer)."""
    schema = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))
    assert "/api/v1/workspaces/{workspace_slug}/audit-events/" in schema.read_text()
