"""A small JSON-over-HTTPS client shared by the adapters (standard library only)."""

import json
import urllib.error
import urllib.request

from deployments.redaction import redact_text

from . import AdapterError


def request_json(
    method: str,
    url: str,
    *,
    token: str,
    body: dict | None = None,
    auth_scheme: str = "Bearer",
    timeout: float = 30,
    extra_headers: dict | None = None,
) -> tuple[int, dict]:
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
        raise AdapterError("Adapters only talk HTTPS.")
    data = json.dumps(body).encode() if body is not None else None
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Authorization": f"{auth_scheme} {token}",
        "User-Agent": "holdfast",
        **(extra_headers or {}),
    }
    req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
            return response.status, (json.loads(raw) if raw else {})
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        if exc.code == 404:
            return 404, {}
        raise AdapterError(redact_text(f"{method} {url} failed with {exc.code}: {detail}"))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise AdapterError(redact_text(f"{method} {url} failed: {exc}"))
