"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Fixtures every browser test uses: `live_url` (the live server's base URL, on a
transactional database) and `page` (a Playwright page in a fresh browser context, from
one Chromium per test session). Helpers (`login`, `check_a11y`, `shot`) live in
`tests/e2e/helpers.py`. Never `playwright install`: the browser is /usr/bin/chromium
(`apt-get install chromium`).
"""

import os
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop in this thread; the test's own ORM calls
# (factories, services) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def live_url(live_server, transactional_db) -> str:
    """The live server's base URL, e.g. http://localhost:40123 (no trailing slash)."""
    return live_server.url


@pytest.fixture
def page(browser):
    """A page in a fresh context (no cookies shared between tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
