"""The web UI's flows in a real Chromium: live chat between two users, comment edit and
history, approval by a second admin, preview rollback, back up now; axe on every page, and
every page once at 360 px wide."""

import re

import pytest
from playwright.sync_api import expect

from collaboration import services as collab
from deployments import services as pipeline
from deployments.models import Preview
from tests.e2e.helpers import check_a11y, login, shot
from tests.factories import ProjectFactory
from tests.tenancy import make_tenant_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(live_url):
    world = make_tenant_world()
    world.project = ProjectFactory(workspace=world.workspace, name="Site", slug="site")
    return world


def test_a_second_users_message_arrives_live(world, live_url, new_page, tmp_path):
    thread = collab.thread_create(workspace=world.workspace, title="General", actor=world.member)
    url = f"{live_url}/w/{world.workspace.slug}/chat/{thread.pk}/"
    reader, writer = new_page(), new_page()
    login(reader, live_url, world.member)
    login(writer, live_url, world.admin)
    reader.goto(url)
    writer.goto(url)
    writer.get_by_label("Message", exact=True).fill(f"Hello @{world.member.handle}, ship today?")
    writer.get_by_role("button", name="Send").click()
    expect(writer.locator("#messages")).to_contain_text("ship today?")
    expect(writer.get_by_label("Message", exact=True)).to_have_value("")
    # The reader never reloads: htmx polls after_seq every 2 s.
    expect(reader.locator("#messages")).to_contain_text("ship today?", timeout=8_000)
    expect(reader.locator("#messages .mention")).to_have_count(1)
    shot(reader, tmp_path, "chat-thread")
    check_a11y(reader)


def test_edit_react_to_and_delete_a_chat_message(world, live_url, page, tmp_path):
    thread = collab.thread_create(workspace=world.workspace, title="General", actor=world.member)
    message, _ = collab.message_post(thread=thread, body="Frist post", actor=world.member)
    login(page, live_url, world.member)
    page.goto(f"{live_url}/w/{world.workspace.slug}/chat/{thread.pk}/")
    item = page.locator(f"#msg-{message.pk}")
    item.get_by_role("link", name="Edit").click()  # htmx swaps the edit form in
    item.get_by_label("Edit message").fill("First post")
    item.get_by_role("button", name="Save").click()
    expect(item).to_contain_text("First post")
    expect(item).to_contain_text("edited")
    item.get_by_role("button", name="React with 👍").click()
    expect(item.get_by_role("button", name="👍 reaction, 1")).to_have_attribute(
        "aria-pressed", "true"
    )
    shot(page, tmp_path, "chat-message-actions")
    check_a11y(page)
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Delete message").click()
    expect(item).to_contain_text("This message was deleted.")


def test_edit_a_comment_and_see_its_history(world, live_url, page, tmp_path):
    collab.comment_create(
        workspace=world.workspace, project=world.project, body="First draft", actor=world.member
    )
    login(page, live_url, world.member)
    page.goto(f"{live_url}/w/{world.workspace.slug}/p/{world.project.slug}/")
    comment = page.locator("#comment-list > li").first
    comment.get_by_role("link", name="Edit").first.click()  # htmx swaps the form in
    comment.get_by_label("Edit comment").fill("Second draft")
    comment.get_by_role("button", name="Save").click()
    expect(page.locator("#comment-list")).to_contain_text("Second draft")
    page.locator("#comment-list > li").first.get_by_role("link", name="History").click()
    history = page.locator(".comment-history")
    expect(history).to_contain_text("First draft")
    expect(history).to_contain_text("Second draft")
    shot(page, tmp_path, "project-comment-history")
    check_a11y(page)


def test_approve_as_a_second_admin(world, live_url, page, tmp_path):
    approval, _ = pipeline.approval_request(
        project=world.project,
        scope="deploy.production",
        payload={"environment": "production", "token": "sk_live_secret"},
        intent_summary="Ship v2 to production",
        actor=world.admin,
    )
    login(page, live_url, world.owner)
    page.goto(f"{live_url}/w/{world.workspace.slug}/approvals/")
    row = page.locator(f"#approval-{approval.pk}")
    expect(row).to_contain_text("Ship v2 to production")
    check_a11y(page)
    row.get_by_label("Note").fill("looks good")
    row.get_by_role("button", name="Approve").click()
    expect(page.locator(f"#approval-{approval.pk}")).to_contain_text("Approved by @")
    shot(page, tmp_path, "approvals")
    check_a11y(page)


def test_roll_back_a_preview(world, live_url, page, tmp_path):
    preview = pipeline.preview_create(project=world.project, slug="site-pv", actor=world.member)
    for text in ("v1", "v2"):
        pipeline.preview_version_create(preview=preview, content={"html": text}, actor=world.member)
    login(page, live_url, world.admin)
    page.goto(f"{live_url}/w/{world.workspace.slug}/p/{world.project.slug}/")
    page.get_by_role("link", name="Previews").click()  # the tab swaps in with htmx
    expect(page.get_by_role("link", name="Previews")).to_have_attribute("aria-current", "page")
    assert page.url.endswith("?tab=previews")
    check_a11y(page)
    page.get_by_role("button", name="Roll back site-pv to v1").click()
    expect(page.locator(".flash")).to_contain_text("now serves v1")
    assert Preview.objects.get(pk=preview.pk).active_version == 1
    shot(page, tmp_path, "project-previews")
    check_a11y(page)


def test_back_up_now(world, live_url, page, tmp_path):
    login(page, live_url, world.admin)
    page.goto(f"{live_url}/w/{world.workspace.slug}/backups/")
    check_a11y(page)
    page.get_by_role("button", name="Back up now").click()
    expect(page.locator(".flash")).to_contain_text(re.compile(r"Backup .+ written"))
    expect(page.locator("table")).to_contain_text("Succeeded")
    shot(page, tmp_path, "backups")
    check_a11y(page)


def test_every_page_at_360_px(world, live_url, new_page, tmp_path):
    thread = collab.thread_create(workspace=world.workspace, title="General", actor=world.member)
    collab.message_post(thread=thread, body="A long line " * 20, actor=world.member)
    collab.comment_create(
        workspace=world.workspace,
        project=world.project,
        body="Hi @" + world.admin.handle,
        actor=world.member,
    )
    page = new_page(width=360, height=740)
    login(page, live_url, world.admin)
    slug = world.workspace.slug
    pages = {
        "home": "/",
        "workspace": f"/w/{slug}/",
        "project": f"/w/{slug}/p/{world.project.slug}/",
        **{
            f"project-{tab}": f"/w/{slug}/p/{world.project.slug}/?tab={tab}"
            for tab in ("previews", "deployments", "runs", "artifacts", "knowledge", "repo-sync")
        },
        "chat": f"/w/{slug}/chat/",
        "chat-thread-360": f"/w/{slug}/chat/{thread.pk}/",
        "approvals-360": f"/w/{slug}/approvals/",
        "notifications": f"/w/{slug}/notifications/",
        "backups-360": f"/w/{slug}/backups/",
        "history": f"/w/{slug}/history/",
        "settings": f"/w/{slug}/settings/",
    }
    for name, path in pages.items():
        page.goto(live_url + path)
        check_a11y(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 362, f"{path} is {width}px wide at a 360px viewport"
        shot(page, tmp_path, name if name.endswith("360") else f"{name}-360")
    anonymous = new_page(width=360, height=740)
    anonymous.goto(live_url + "/")
    check_a11y(anonymous)
    shot(anonymous, tmp_path, "landing-360")
