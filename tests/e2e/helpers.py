"""Browser-test helpers: sign in, the accessibility check, screenshots."""

from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

SERIOUS = {"serious", "critical"}


def login(page, live_url: str, user) -> None:
    """Sign `user` in by giving the page's context a session cookie.

    Until the sign-in form lands (accounts pages), the session is made directly with the
    configured session engine; the lead switches this to filling /accounts/login/.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": live_url}]
    )


def check_a11y(page) -> None:
    """Run axe-core on the page; fail on any serious or critical violation (printed)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    for violation in bad:
        targets = [node["target"] for node in violation["nodes"]][:5]
        print(f"axe {violation['impact']}: {violation['id']} — {violation['help']} {targets}")
    assert not bad, f"{len(bad)} serious/critical axe violations on {page.url}"


def shot(page, tmp_path: Path, name: str) -> Path:
    """Save a full-page screenshot as tmp_path/<name>.png and return its path."""
    path = Path(tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
