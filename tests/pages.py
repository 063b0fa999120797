"""The page contract: what every `/w/<slug>/…` page must do, as a mixin for test classes.

A subclass sets `url(world, filled)`, the HTML `write_marker` that only writers see, a
`write(world, filled) -> (url, data)` a viewer is refused, and the pinned `queries` the
page runs. It gets: member 200, stranger 404, anonymous → settings.LOGIN_URL, viewer sees
no write controls and a viewer POST → 403, and the same pinned query count with few rows
and with more rows than one page shows.
"""

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.page_data import fill
from tests.tenancy import make_tenant_world

FEW, MANY = 2, 30  # MANY is more than one page (25) of every list


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get_counted(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return response, len(ctx)


@pytest.mark.django_db
class PageContract:
    queries: int = 0
    write_marker: str = ""
    writer: str = "member"  # the lowest role that sees `write_marker`

    def url(self, world, filled) -> str:
        raise NotImplementedError

    def write(self, world, filled) -> tuple[str, dict] | None:
        return None

    @pytest.fixture
    def page_world(self):
        world = make_tenant_world()
        return world, fill(world, FEW)

    def test_member_gets_the_page(self, page_world):
        world, filled = page_world
        response = signed_in(getattr(world, self.writer)).get(self.url(world, filled))
        assert response.status_code == 200
        if self.write_marker:
            assert self.write_marker in response.content.decode()

    def test_stranger_gets_404(self, page_world):
        world, filled = page_world
        assert signed_in(world.outsider).get(self.url(world, filled)).status_code == 404

    def test_anonymous_is_sent_to_login(self, page_world):
        world, filled = page_world
        url = self.url(world, filled)
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(settings.LOGIN_URL)

    def test_viewer_sees_no_write_controls_and_is_refused(self, page_world):
        world, filled = page_world
        client = signed_in(world.viewer)
        response = client.get(self.url(world, filled))
        assert response.status_code == 200
        if self.write_marker:
            assert self.write_marker not in response.content.decode()
        write = self.write(world, filled)
        if write is not None:
            url, data = write
            assert client.post(url, data).status_code == 403

    def test_pinned_queries_do_not_grow_with_rows(self):
        counts = []
        for n in (FEW, MANY):
            world = make_tenant_world()
            filled = fill(world, n)
            client = signed_in(world.admin)
            client.get(self.url(world, filled))  # warm caches (content types, sessions)
            response, count = get_counted(client, self.url(world, filled))
            assert response.status_code == 200
            counts.append(count)
        assert counts == [self.queries, self.queries], counts
