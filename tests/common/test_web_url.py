"""`WebUrlField`: the pattern the schema states for a link is one the server accepts, so a
client generated from the schema never sends a link the API refuses (schemathesis ST202)."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from hypothesis import given, settings
from hypothesis import strategies as st

from common.fields import WEB_URL_PATTERN
from deployments.api.serializers import RepoInput
from tests.factories import ProjectFactory
from tests.tenancy import api_client, make_tenant_world


@settings(max_examples=300, deadline=None)
@given(st.from_regex(WEB_URL_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 500))
def test_every_link_the_pattern_admits_passes_djangos_url_check(url):
    URLValidator(schemes=["http", "https"])(url)
    serializer = RepoInput(data={"provider": "git", "owner": "o", "name": "n", "html_url": url})
    assert serializer.is_valid(), serializer.errors


@pytest.mark.parametrize(
    "url",
    ["http://a", "javascript:alert(1)", "ftp://a.example", "https://a-.com", "https://a.com/<x>"],
)
def test_links_django_or_the_pattern_refuse_are_refused_with_one_message(url):
    serializer = RepoInput(data={"provider": "git", "owner": "o", "name": "n", "html_url": url})
    assert not serializer.is_valid()
    assert [str(e) for e in serializer.errors["html_url"]] == [
        "Enter an http or https URL such as https://example.com/path."
    ]
    if re.fullmatch(WEB_URL_PATTERN, url):
        with pytest.raises(ValidationError):
            URLValidator()(url)


@pytest.mark.django_db
def test_the_schema_carries_the_pattern_and_the_api_applies_it(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    link = schema["components"]["schemas"]["RepoInputRequest"]["properties"]["html_url"]
    assert link["oneOf"][0]["pattern"] == WEB_URL_PATTERN
    assert link["oneOf"][1] == {"type": "string", "maxLength": 0}

    world = make_tenant_world()
    project = ProjectFactory(workspace=world.workspace)
    api = api_client(world.member)
    url = f"/api/v1/workspaces/{project.workspace.slug}/projects/{project.pk}/repos/"
    bad = api.post(
        url, {"provider": "git", "owner": "o", "name": "n", "html_url": "http://a"}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"html_url"}
    good = api.post(
        url,
        {
            "provider": "git",
            "owner": "o",
            "name": "n",
            "html_url": "https://git.example.com/o/n?tab=1#top",
        },
        format="json",
    )
    assert good.status_code == 201, good.content
    assert good.json()["html_url"] == "https://git.example.com/o/n?tab=1#top"
