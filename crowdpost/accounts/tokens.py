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


# Fixed, published tokens the demo data set carries so `make run` can always print working
# ones. They are well known, so they work only in development on loopback (see
# crowdpost.accounts.exposure); `identify` refuses them in any other environment.
DEMO_REQUESTER_TOKEN = "cpr_demo_requester_token_not_for_production"  # noqa: S105
DEMO_TOLOKER_TOKEN = "cpt_demo_toloker_token_not_for_production"  # noqa: S105
DEMO_TOKENS = (DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_TOKEN)
