"""The caller's address behind the reverse proxies we were told to trust (``MSP_TRUSTED_PROXIES``).

uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default (its ``forwarded_allow_ips``), so
any local process could choose the address the sign-in throttle counts and the audit log
records. ``msp serve`` turns that off and this middleware does the job instead, for the
configured proxies only: when the peer is one of them, the client is the right-most address of
``Forwarded: for=`` (RFC 7239) or else ``X-Forwarded-For`` that is not itself a trusted proxy.
The entries left of it are whatever the client sent, and prove nothing. With no trusted
proxies (the default) both headers are ignored and the peer is the client.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)


class TrustedProxies:
    """ASGI middleware: rewrite ``scope["client"]`` from a trusted proxy's forwarding headers,
    so every later reader (routes, the MCP endpoint, the access log) sees the real client."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.trusted and scope["type"] in ("http", "websocket") and client:
            headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
            found = forwarded_client(client[0], headers, self.trusted)
            if found != client[0]:
                scope["client"] = (found, 0)
        await self.app(scope, receive, send)


def forwarded_client(peer: str, headers: Sequence[tuple[str, str]], trusted: Sequence[Network]) -> str:
    """The client's address as ``trusted`` proxies report it; ``peer`` when it is not one."""
    if not _is_trusted(_address(peer), trusted):
        return peer
    forwarded = [v for k, v in headers if k == "forwarded"]
    if forwarded:
        hops = [
            m.group(1).strip('"')
            for v in forwarded
            for element in v.split(",")
            for m in _FOR.finditer(element)
        ]
    else:
        hops = [h.strip() for k, v in headers if k == "x-forwarded-for" for h in v.split(",")]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # "unknown", an obfuscated name, garbage: the chain is not usable past here
        client = str(address)
        if not _is_trusted(address, trusted):
            break
    return client


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:4711
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # 192.0.2.1:4711
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: Address | None, trusted: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)
