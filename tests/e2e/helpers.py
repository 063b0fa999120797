"""Browser-test helpers: sign in, the accessibility check, screenshots."""

import re
from pathlib import Path

SERIOUS = {"serious", "critical"}
PASSWORD_LABEL = re.compile(r"^Password:?$")  # Django labels end with ":"
FACTORY_PASSWORD = "pass-1234-word"  # tests.factories.UserFactory  # noqa: S105


def login(page, live_url: str, user, password: str = FACTORY_PASSWORD) -> None:
    """Sign in through /accounts/login/ as a person would, and wait for the redirect.

    `user` is an email or handle, or a User (signed in by email).
    """
    username = user if isinstance(user, str) else user.email
    page.goto(f"{live_url}/accounts/login/")
    page.get_by_label("Email or handle").fill(username)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/accounts/login/" not in page.url, "sign-in failed: still on the login page"


def check_a11y(page) -> list:
    """Run axe-core on the page; fail on any serious or critical violation (printed)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = [v for v in results.response["violations"] if (v.get("impact") or "") in SERIOUS]
    for violation in violations:
        targets = [node.get("target") for node in violation.get("nodes", [])][:5]
        print(f"axe {violation['impact']}: {violation['id']}: {violation['help']} {targets}")
    assert not violations, f"{len(violations)} serious/critical axe violations on {page.url}"
    return results.response["violations"]


def shot(page, tmp_path: Path, name: str) -> Path:
    """Save a full-page screenshot as tmp_path/<name>.png and return its path."""
    path = Path(tmp_path) / (name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
