"""KPI events: append-only JSONL, a tolerant reader, an idempotent rollup, atomic priors,
and a `.cache/` whose loss costs history only."""

import json
import shutil
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import selectors, services, stores
from billing.models import KpiDaily
from governance.registry import store_entries
from tests.factories import WorkspaceFactory
from tests.tenancy import TenancyContract, api_client

TODAY = date(2026, 12, 1)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


def _events(workspace, day=TODAY, views=0, conversions=0, variant="", event="cta"):
    for _ in range(views):
        services.kpi_record(
            workspace=workspace, event=event, kind="view", variant=variant, ts=_at(day)
        )
    for _ in range(conversions):
        services.kpi_record(
            workspace=workspace, event=event, kind="conversion", variant=variant, ts=_at(day)
        )


def test_writer_appends_one_line_per_event_and_never_rewrites(tmp_path, settings, db):
    workspace = WorkspaceFactory()
    _events(workspace, views=2)
    path = stores.kpi_path(TODAY)
    first = path.read_bytes()
    _events(workspace, conversions=1)
    content = path.read_bytes()
    assert content.startswith(first)  # appended, the old bytes untouched
    lines = content.decode().splitlines()
    assert len(lines) == 3 and all(
        json.loads(line)["workspace"] == workspace.slug for line in lines
    )
    assert path.parent == settings.CACHE_DIR / "kpi" and path.name == "2026-12-01.jsonl"


def test_reader_skips_a_truncated_last_line_and_says_so(db):
    workspace = WorkspaceFactory()
    _events(workspace, views=3)
    path = stores.kpi_path(TODAY)
    data = path.read_bytes()
    path.write_bytes(data[:-15])  # the last event torn mid-line (a crash during write)
    read = stores.kpi_read(TODAY)
    assert len(read.rows) == 2 and read.skipped == 1
    # The next append starts on a fresh line: only the torn event is lost.
    _events(workspace, conversions=1)
    read = stores.kpi_read(TODAY)
    assert len(read.rows) == 3 and read.skipped == 1
    assert read.rows[-1]["kind"] == "conversion"


def test_reader_skips_corrupt_lines_anywhere(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n[1, 2]\n\xff\xfe\n{"b": 2}\n')
    read = stores.read_jsonl(path)
    assert read.rows == [{"a": 1}, {"b": 2}] and read.skipped == 3


def test_rollup_counts_views_and_conversions_per_variant(db):
    workspace = WorkspaceFactory()
    _events(workspace, views=5, conversions=2, variant="a")
    _events(workspace, views=4, conversions=3, variant="b")
    _events(workspace, views=1, event="signup")
    result = services.kpi_rollup_day(day=TODAY)
    assert result.events == 15 and result.rows == 3
    rows = {(r.event, r.variant): (r.views, r.conversions, r.count) for r in KpiDaily.objects.all()}
    assert rows == {("cta", "a"): (5, 2, 7), ("cta", "b"): (4, 3, 7), ("signup", ""): (1, 0, 1)}


def test_rollup_is_idempotent_and_picks_up_new_events(db):
    workspace = WorkspaceFactory()
    _events(workspace, views=3, conversions=1)
    services.kpi_rollup(days=[TODAY])
    services.kpi_rollup(days=[TODAY])
    row = KpiDaily.objects.get()
    assert (row.views, row.conversions, row.count) == (3, 1, 4)
    pk = row.pk
    _events(workspace, views=2)
    services.kpi_rollup(days=[TODAY])
    row = KpiDaily.objects.get()
    assert row.pk == pk and (row.views, row.count) == (5, 6)  # upserted, not added


def test_rollup_beat_task_covers_today_and_yesterday(db):
    from billing.tasks import rollup_kpi

    workspace = WorkspaceFactory()
    today = timezone.now().date()
    _events(workspace, day=today, views=1)
    _events(workspace, day=today - timedelta(days=1), views=2)
    _events(workspace, day=today - timedelta(days=5), views=4)  # older: only on request
    rollup_kpi()
    rollup_kpi()
    assert sorted(KpiDaily.objects.values_list("views", flat=True)) == [1, 2]
    services.kpi_rollup(all_days=True)
    assert sorted(KpiDaily.objects.values_list("views", flat=True)) == [1, 2, 4]


def test_rollup_ignores_events_of_unknown_workspaces(db):
    workspace = WorkspaceFactory()
    _events(workspace, views=1)
    stores.append_jsonl(
        stores.kpi_path(TODAY),
        {"ts": _at(TODAY).isoformat(), "workspace_id": "not-a-uuid", "event": "x", "kind": "view"},
    )
    assert services.kpi_rollup_day(day=TODAY).rows == 1


def test_priors_are_recomputed_from_aggregates_and_replaced_atomically(db, settings):
    workspace = WorkspaceFactory()
    today = timezone.now().date()
    _events(workspace, day=today, views=8, conversions=2, variant="a")
    services.kpi_rollup()
    priors = services.priors_recompute()
    path = settings.CACHE_DIR / "priors.json"
    assert json.loads(path.read_text()) == priors
    stats = selectors.workspace_priors(workspace=workspace)["cta"]["a"]
    assert (stats["views"], stats["conversions"], stats["alpha"], stats["beta"]) == (8, 2, 3, 7)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_priors_write_leaves_the_old_file(db, settings, monkeypatch):
    stores.priors_write({"workspaces": {"old": {}}})
    monkeypatch.setattr(stores.json, "dump", lambda *a, **k: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        stores.priors_write({"workspaces": {"new": {}}})
    assert stores.priors_read() == {"workspaces": {"old": {}}}
    assert not [p for p in (settings.CACHE_DIR).iterdir() if p.name.endswith(".tmp")]


def test_unreadable_priors_read_as_empty(db, settings):
    settings.CACHE_DIR.mkdir(parents=True)
    (settings.CACHE_DIR / "priors.json").write_text('{"workspaces": {"trunc')
    assert stores.priors_read() == {}


def test_both_stores_are_registered():
    entries = {e.key: e for e in store_entries()}
    kpi = entries["billing.kpi_events"]
    assert kpi.data_class == "semi_critical" and kpi.append_only and kpi.tolerant_reader
    assert kpi.writer is stores.kpi_append and kpi.storage == ".cache/kpi/*.jsonl"
    priors = entries["billing.outcome_priors"]
    assert priors.tolerant_reader and priors.atomic_replace and priors.writer is stores.write_atomic


class TestKpiEndpoint(TenancyContract):
    routes = ("billing-api:kpi", "billing-api:kpi-priors")
    list_queries = 4
    writer_role = "viewer"

    def probes(self, world):
        return [("get", f"/api/v1/workspaces/{world.workspace.slug}/kpi/priors/", None)]

    viewer_may_write = True

    def list_url(self, world):
        return f"/api/v1/workspaces/{world.workspace.slug}/kpi/"

    def write(self, world):
        return "post", self.list_url(world), {"event": "cta", "kind": "view", "variant": "a"}

    def make_rows(self, world, n):
        start = KpiDaily.objects.filter(workspace=world.workspace).count()
        for i in range(start, start + n):
            KpiDaily.objects.create(
                workspace=world.workspace, day=TODAY, event=f"e{i}", views=i, count=i
            )


@pytest.mark.django_db
def test_recording_an_event_writes_nothing_to_the_database(world):
    url = f"/api/v1/workspaces/{world.workspace.slug}/kpi/"
    with CaptureQueriesContext(connection) as queries:
        response = api_client(world.viewer).post(
            url, {"event": "pricing.cta", "kind": "conversion", "variant": "b", "value": 9.5}
        )
    assert response.status_code == 202, response.content
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].split()[0].upper() != "SELECT"]
    assert writes == [], writes
    (line,) = stores.kpi_path(timezone.now().date()).read_text().splitlines()
    event = json.loads(line)
    assert (event["event"], event["kind"], event["variant"], event["value"]) == (
        "pricing.cta",
        "conversion",
        "b",
        9.5,
    )
    assert event["user_id"] == str(world.viewer.pk)


@pytest.mark.django_db
def test_a_retry_with_the_same_idempotency_key_records_nothing_new(world):
    url = f"/api/v1/workspaces/{world.workspace.slug}/kpi/"
    client = api_client(world.viewer)
    first = client.post(url, {"event": "cta", "variant": "a"}, HTTP_IDEMPOTENCY_KEY="k-1")
    retry = client.post(url, {"event": "cta", "variant": "a"}, HTTP_IDEMPOTENCY_KEY="k-1")
    other = client.post(url, {"event": "cta", "variant": "a"}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert (first.status_code, retry.status_code, other.status_code) == (202, 200, 202)
    assert retry.json()["ts"] == first.json()["ts"]
    assert len(stores.kpi_path(timezone.now().date()).read_text().splitlines()) == 2
    elsewhere = WorkspaceFactory()  # keys are per workspace
    services.kpi_record(workspace=elsewhere, event="cta", idempotency_key="k-1")
    assert len(stores.kpi_path(timezone.now().date()).read_text().splitlines()) == 3
    response = client.post(url, {"event": "cta"}, HTTP_IDEMPOTENCY_KEY="x" * 201)
    assert response.status_code == 400 and "idempotency_key" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "event"),
        ({"event": "has spaces"}, "event"),
        ({"event": "x" * 101}, "event"),
        ({"event": "cta", "kind": "click"}, "kind"),
        ({"event": "cta", "variant": "a/b"}, "variant"),
        ({"event": "cta", "value": "lots"}, "value"),
        ({"event": "cta", "properties": "nope"}, "properties"),
        ({"event": "cta", "properties": {"blob": "x" * 5000}}, "properties"),
    ],
)
def test_bad_events_are_400_with_field_errors(world, body, field):
    url = f"/api/v1/workspaces/{world.workspace.slug}/kpi/"
    response = api_client(world.member).post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not stores.kpi_path(timezone.now().date()).exists()


@pytest.mark.django_db
def test_deleting_the_cache_folder_loses_only_history(world, settings):
    client = api_client(world.member)
    base = f"/api/v1/workspaces/{world.workspace.slug}"
    assert client.post(f"{base}/kpi/", {"event": "cta"}).status_code == 202
    services.kpi_rollup()
    services.priors_recompute()
    assert KpiDaily.objects.count() == 1

    shutil.rmtree(settings.CACHE_DIR)

    assert client.get(f"{base}/kpi/").json()["count"] == 1  # aggregates are in the database
    assert client.get(f"{base}/kpi/priors/").json() == {"events": {}}
    assert client.get(f"/api/v1/teams/{world.workspace.team.pk}/billing/").status_code == 200
    results = services.kpi_rollup()
    assert not any(r.found for r in results) and KpiDaily.objects.get().views == 1
    services.priors_recompute()
    assert client.post(f"{base}/kpi/", {"event": "cta"}).status_code == 202  # recreated
    assert stores.kpi_path(timezone.now().date()).exists()


@pytest.mark.django_db
def test_priors_endpoint_shows_this_workspace_only(world):
    other = WorkspaceFactory()
    today = timezone.now().date()
    _events(world.workspace, day=today, views=2, conversions=1)
    _events(other, day=today, views=5, event="secret")
    services.kpi_rollup()
    services.priors_recompute()
    body = api_client(world.viewer).get(f"/api/v1/workspaces/{world.workspace.slug}/kpi/priors/")
    assert set(body.json()["events"]) == {"cta"}
    outsider = api_client(world.outsider).get(f"/api/v1/workspaces/{other.slug}/kpi/priors/")
    assert outsider.status_code == 404


@pytest.mark.django_db
def test_kpi_events_are_rate_limited(world, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    # The rates are read when DRF loads; patch the class attribute it copied them to.
    # Counters are keyed by user id, and every test's users are new: no clearing needed.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"kpi": "3/min"})
    client = api_client(world.viewer)
    url = f"/api/v1/workspaces/{world.workspace.slug}/kpi/"
    codes = [client.post(url, {"event": "cta"}).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    assert len(stores.kpi_read(timezone.now().date()).rows) == 3
