"""The one redaction function: nothing the pipeline stores may carry a secret.

Every metadata/input/output JSON, approval payload copy, error message and
sandbox transcript passes through `redact()` (JSON-like values) or
`redact_text()` (free text) before it reaches the database or storage.

- JSON keys that name a secret (password, secret, token, api_key,
  authorization, private_key, credentials, cookie, ...) get the value
  `"[redacted]"`, whatever it was.
- String values that look like a secret (bearer/basic credentials, private
  key blocks, connection strings with a password, well-known token shapes such
  as GitHub, AWS, Slack, OpenAI keys and JWTs, `KEY=value` assignments of
  secret-named keys) become `"[redacted]"`.
- In free text only the secret part is replaced, so a transcript stays readable.
- The values of the secrets this process itself holds (Django's SECRET_KEY,
  adapter tokens, the database password) are replaced wherever they appear.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

REDACTED = "[redacted]"

# Words that make a key secret when they appear as a word of the key name.
_SECRET_WORDS = {
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "auth",
    "credential",
    "credentials",
    "cookie",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
    "signature",
    "dsn",
}
# Whole key names (separators removed) that are secret although no word above matches.
_SECRET_KEYS = {
    "apikey",
    "xapikey",
    "privatekey",
    "accesskey",
    "accesskeyid",
    "secretaccesskey",
    "clientsecret",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "sessionid",
    "setcookie",
    "databaseurl",
    "redisurl",
    "connectionstring",
}

_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r".*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]{8,}=*")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@'\"]*:)([^\s@/'\"]+)(@)")
_TOKEN_SHAPES = re.compile(
    r"\b(?:"
    r"gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|sk-(?:proj-|live-|test-)?[A-Za-z0-9_\-]{20,}"
    r"|(?:pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    r")"
)
_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_\-])([A-Za-z][A-Za-z0-9_\-]{1,63})([\"']?\s*[=:]\s*)"
    r"((?i:(?:bearer|basic|token|digest)\s+)?(?:\"[^\"]*\"|'[^']*'|[^\s,;&]+))"
)


def _key_words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_secret_key(key: Any) -> bool:
    """True when a mapping key names a secret (`API_KEY`, `githubToken`, `password`...)."""
    if not isinstance(key, str):
        return False
    words = _key_words(key)
    if "".join(words) in _SECRET_KEYS:
        return True
    if any(w in _SECRET_WORDS for w in words):
        return True
    # Two-word names such as api_key, private_key, access_key, secret_key.
    return any(a + b in _SECRET_WORDS for a, b in zip(words, words[1:], strict=False))


def _known_secret_values() -> list[str]:
    values = [
        getattr(settings, "SECRET_KEY", ""),
        getattr(settings, "GITHUB_TOKEN", ""),
        getattr(settings, "DEPLOY_PROVIDER_TOKEN", ""),
        settings.DATABASES.get("default", {}).get("PASSWORD", ""),
    ]
    return sorted({v for v in values if isinstance(v, str) and len(v) >= 8}, key=len, reverse=True)


def looks_secret(text: str) -> bool:
    """True when a string holds something that looks like a credential."""
    return redact_text(text) != text


def _redact_assignment(match: re.Match) -> str:
    key, sep, value = match.groups()
    if not is_secret_key(key) or value.strip("\"'") in ("", REDACTED):
        return match.group(0)
    return f"{key}{sep}{REDACTED}"


def redact_text(text: str) -> str:
    """Replace each secret inside free text (a transcript, an error message) with [redacted]."""
    if not text:
        return text
    for value in _known_secret_values():
        text = text.replace(value, REDACTED)
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    text = _ASSIGNMENT.sub(_redact_assignment, text)
    return text


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with every secret key's value and secret-looking string
    replaced by "[redacted]". Safe to call on already-redacted data (idempotent)."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if is_secret_key(k) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return REDACTED if looks_secret(value) else value
    return value
