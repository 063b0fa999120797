"""Outbound address guard: may the server itself connect to this URL?

Webhook deliveries and remote clones reach hosts that members name. A host that is, or
resolves to, a private, loopback, link-local or otherwise non-global address is refused
(server-side request forgery), unless an operator lists it in the caller's allow-list
setting. The check runs when the URL is saved and again before each connection, since
DNS answers may change.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit


def url_problem(
    url: str, *, allowed_hosts: Iterable[str], setting: str, what: str, resolve: bool = True
) -> str | None:
    """None when the server may connect to `url`, else one sentence saying why not.
    `what` names the URL in the answer ("A webhook URL"); `setting` is the allow-list.
    With `resolve=False` only a literal address (or `localhost`) is judged, not DNS: for
    a check when saving, where the connection itself checks again."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "This is not a valid URL."
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return f"{what} is an http(s) URL with a host."
    if parts.username or parts.password:
        return "Remove the credentials from this URL; Holdfast never stores secrets in URLs."
    if host in {h.strip().lower() for h in allowed_hosts if h.strip()}:
        return None
    if parts.scheme != "https":
        return f"{what} must use https."
    if not resolve:
        try:
            literal = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            literal = [ipaddress.ip_address("127.0.0.1")] if host == "localhost" else []
        return next((_refusal(host, a, setting) for a in literal if not a.is_global), None)
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"The host {host} does not resolve."
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return _refusal(host, address, setting)
    return None


def _refusal(host: str, address, setting: str) -> str:
    return (
        f"The host {host} is or resolves to a private, loopback or link-local address "
        f"({address}); list it in {setting} to allow it."
    )
