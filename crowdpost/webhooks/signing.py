"""Toloka-Signature: HMAC-SHA256 over `{ts}.{v}.{body}` (guide, "Event authentication")."""

from __future__ import annotations

import hashlib
import hmac

VERSION = 1


def signature(secret_key: str, body: bytes, ts_ms: int, version: int = VERSION) -> str:
    data = f"{ts_ms}.{version}.".encode() + body
    return hmac.new(secret_key.encode(), data, hashlib.sha256).hexdigest()


def signature_header(secret_key: str, body: bytes, ts_ms: int) -> str:
    """The header's value exactly as the guide shows it: `v=1, ts=..., sign=...`."""
    return f"v={VERSION}, ts={ts_ms}, sign={signature(secret_key, body, ts_ms)}"


def parse_header(value: str) -> dict[str, str]:
    """`{v=1, ts=..., sign=...}` (braces optional) -> its fields; for receivers and tests."""
    fields: dict[str, str] = {}
    for part in value.strip().strip("{}").split(","):
        name, _, field = part.strip().partition("=")
        fields[name.strip()] = field.strip()
    return fields


def is_valid(secret_key: str, body: bytes, header: str) -> bool:
    fields = parse_header(header)
    if not {"v", "ts", "sign"} <= fields.keys():
        return False
    expected = hmac.new(
        secret_key.encode(), f"{fields['ts']}.{fields['v']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["sign"])
