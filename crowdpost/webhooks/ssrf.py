"""Where a webhook may go: http(s) to public addresses only, unless the installation allows
private ones (`webhook_allow_private`, for tests' 127.0.0.1 receivers).

The name is resolved once here and the delivery connects to the address that was checked,
so a DNS answer that changes between check and connect (rebinding) cannot redirect it.
`resolve` is the single function that touches DNS (tests replace it).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048

# Ranges `is_private`/`is_global` do not all cover on every Python version, named explicitly.
_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",  # unique-local (fd00:ec2::254 is AWS metadata)
        "fe80::/10",
        "ff00::/8",
    )
)


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: IPAddress


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (the name service, as the connection would use it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def ip_literal(host: str) -> IPAddress | None:
    """The address a numeric host means, in every form a connection would accept it:
    dotted, IPv6, and the inet_aton forms "2130706433", "0177.0.0.1", "0x7f.1" (127.0.0.1)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_blocked(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in net for net in _BLOCKED_NETWORKS):
        return True
    return not address.is_global


def check_url(url: str, *, allow_private: bool) -> Target:
    """The address to connect to for `url`, or UnsafeUrl."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("The URL is too long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("The URL is not valid") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("Only http and https URLs can receive webhooks")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("The URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("The URL may not carry credentials")
    port = port or (443 if scheme == "https" else 80)
    literal = ip_literal(host)
    try:
        addresses = [literal] if literal is not None else resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UnsafeUrl(f"The host {host!r} cannot be resolved") from exc
    if not addresses:
        raise UnsafeUrl(f"The host {host!r} cannot be resolved")
    if not allow_private:
        for address in addresses:
            if is_blocked(address):
                raise UnsafeUrl("The URL resolves to a private, loopback or reserved address")
    return Target(scheme=scheme, host=host, port=port, address=addresses[0])
