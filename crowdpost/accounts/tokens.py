"""API tokens: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

REQUESTER_PREFIX = "cpr_"
TOLOKER_PREFIX = "cpt_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_authorization(header: str | None) -> str | None:
    """The token from `OAuth <t>` or `ApiKey <t>` (toloka-kit picks either by token shape)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in ("oauth", "apikey", "bearer"):
        return None
    token = token.strip()
    return token or None
