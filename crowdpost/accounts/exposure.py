"""Well-known tokens never open a deployed server.

The default admin token (`DEFAULT_ADMIN_TOKEN`) and the demo tokens are printed in the
source, so they may work only where nobody else can reach them: in development, with
every interface the server binds on loopback. `crowdpost serve` asks these functions
before it binds and refuses to start otherwise; `identify` refuses the same tokens at
request time outside development, as a second line.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy.orm import Session

from crowdpost.accounts import repository
from crowdpost.accounts.tokens import DEMO_TOKENS, hash_token
from crowdpost.config import DEFAULT_ADMIN_TOKEN, Settings

# The demo requester's password (`make run` prints it), published like the demo tokens:
# sign-in refuses it outside development.
DEMO_PASSWORD = "crowdpost-demo"  # noqa: S105

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (bracketed or not, IPv4-mapped too) or localhost; 0.0.0.0 and :: are not."""
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # any other name may resolve to a public interface
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def well_known_tokens_allowed(settings: Settings, hosts: list[str]) -> bool:
    """Development, and every interface bound is loopback."""
    return settings.environment == "development" and bool(hosts) and all(is_loopback(h) for h in hosts)


def _where(settings: Settings, hosts: list[str]) -> str:
    exposed = [h for h in hosts if not is_loopback(h)]
    if exposed:
        return f"on {', '.join(exposed)} (not a loopback interface)"
    return f"in the {settings.environment!r} environment (CROWDPOST_ENVIRONMENT)"


def admin_token_refusal(settings: Settings, hosts: list[str]) -> str | None:
    """Why `serve` must not start with this admin token on these hosts, or None."""
    if settings.admin_token != DEFAULT_ADMIN_TOKEN or well_known_tokens_allowed(settings, hosts):
        return None
    return (
        f"refusing to serve {_where(settings, hosts)} with the default admin token: it is published in the "
        "source. Set CROWDPOST_ADMIN_TOKEN to a secret of at least 32 random characters, e.g. "
        "CROWDPOST_ADMIN_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))'). "
        "The default works only with CROWDPOST_ENVIRONMENT=development on a loopback host (127.0.0.1)."
    )


def demo_refusal(settings: Settings, hosts: list[str]) -> str | None:
    """Why demo data (and its published tokens) must not be loaded for these hosts, or None."""
    if well_known_tokens_allowed(settings, hosts):
        return None
    return (
        f"refusing to load demo data {_where(settings, hosts)}: its tokens are published in the source. "
        "Demo data is for CROWDPOST_ENVIRONMENT=development on a loopback host (127.0.0.1) only."
    )


def active_demo_tokens(session: Session) -> list[str]:
    """The demo tokens this database accepts (present and not revoked)."""
    by_hash = {hash_token(t): t for t in DEMO_TOKENS}
    found = repository.live_token_hashes(session, by_hash)
    return [token for digest, token in by_hash.items() if digest in found]


def demo_tokens_refusal(settings: Settings, hosts: list[str], active: list[str]) -> str | None:
    """Why `serve` must not start on a database that still accepts demo tokens, or None."""
    if not active or well_known_tokens_allowed(settings, hosts):
        return None
    commands = "\n".join(f"  crowdpost admin revoke-token {token}" for token in active)
    return (
        f"refusing to serve {_where(settings, hosts)}: the database holds demo tokens, which are published "
        f"in the source. Revoke them first (same CROWDPOST_DATABASE_URL):\n{commands}"
    )


def is_well_known(token: str) -> bool:
    """A published token: the default admin token or a demo token."""
    return token == DEFAULT_ADMIN_TOKEN or token in DEMO_TOKENS
