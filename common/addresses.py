"""Outbound address guard: may the server itself connect to this URL?

Webhook deliveries and remote clones reach hosts that members name. A host that is, or
resolves to, a private, loopback, link-local or otherwise non-global address is refused
(server-side request forgery), unless an operator lists it in the caller's allow-list
setting. The check runs when the URL is saved and again at each connection, on the very
addresses connected to: a webhook connects through `GuardedBackend`, a clone is pinned to
the addresses checked (`url_addresses`), so a DNS answer that changes between the check
and the connection (DNS rebinding) cannot point the server at a private address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import httpcore


def url_problem(
    url: str, *, allowed_hosts: Iterable[str], setting: str, what: str, resolve: bool = True
) -> str | None:
    """None when the server may connect to `url`, else one sentence saying why not.
    `what` names the URL in the answer ("A webhook URL"); `setting` is the allow-list.
    With `resolve=False` only a literal address (or `localhost`) is judged, not DNS: for
    a check when saving, where the connection itself checks again."""
    return url_addresses(
        url, allowed_hosts=allowed_hosts, setting=setting, what=what, resolve=resolve
    )[0]


def url_addresses(
    url: str, *, allowed_hosts: Iterable[str], setting: str, what: str, resolve: bool = True
) -> tuple[str | None, list[str]]:
    """(why not or None, the checked addresses the host resolves to). Connect only to
    those addresses. The list is empty for an allow-listed host (no pin needed) and when
    `resolve=False`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL.", []
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return f"{what} is an http(s) URL with a host.", []
    if parts.username or parts.password:
        return "Remove the credentials from this URL; Holdfast never stores secrets in URLs.", []
    allowed = _normalised(allowed_hosts)
    if host in allowed:
        return None, []
    if parts.scheme != "https":
        return f"{what} must use https.", []
    if not resolve:
        try:
            literal = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            literal = [ipaddress.ip_address("127.0.0.1")] if host == "localhost" else []
        return next((_refusal(host, a, setting) for a in literal if not a.is_global), None), []
    return host_addresses(host, port or 443, allowed_hosts=allowed, setting=setting)


def host_addresses(
    host: str, port: int, *, allowed_hosts: Iterable[str], setting: str
) -> tuple[str | None, list[str]]:
    """Resolve `host` once and judge every address it answers with: (why not or None,
    the addresses). An allow-listed host is not resolved here (empty list)."""
    host = host.lower().strip("[]")
    if host in _normalised(allowed_hosts):
        return None, []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"The host {host} does not resolve.", []
    found: list[str] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return _refusal(host, address, setting), []
        if str(address) not in found:
            found.append(str(address))
    if not found:
        return f"The host {host} does not resolve.", []
    return None, found


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the guard accepts: the
    host is resolved and judged here, at connect time, and the socket opened to the
    address judged (TLS still verifies the certificate for the host name)."""

    def __init__(self, *, allowed_hosts: Callable[[], Iterable[str]], setting: str) -> None:
        self.allowed_hosts = allowed_hosts
        self.setting = setting

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        problem, found = host_addresses(
            host, port, allowed_hosts=self.allowed_hosts(), setting=self.setting
        )
        if problem:
            raise httpcore.ConnectError(f"refused: {problem}")
        return super().connect_tcp(
            found[0] if found else host, port, timeout, local_address, socket_options
        )


def _normalised(hosts: Iterable[str]) -> set[str]:
    return {h.strip().lower() for h in hosts if h.strip()}


def _refusal(host: str, address, setting: str) -> str:
    return (
        f"The host {host} is or resolves to a private, loopback or link-local address "
        f"({address}); list it in {setting} to allow it."
    )
