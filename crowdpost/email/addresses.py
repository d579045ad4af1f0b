"""E-mail address syntax, checked by hand: no regular expression, so no backtracking, and
every input is length-capped before it is looked at."""

from __future__ import annotations

import string

MAX_ADDRESS = 254
MAX_LOCAL = 64
MAX_LABEL = 63

# RFC 5322 atext (the unquoted local part); quoted local parts are refused on purpose.
_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~.")
_LABEL_CHARS = frozenset(string.ascii_letters + string.digits + "-")


def normalize_address(raw: str) -> str | None:
    """The address with its domain in lower case, or None when it is not a deliverable
    `local@domain.tld` (dot-atom local part, LDH labels, at least two of them)."""
    if len(raw) > MAX_ADDRESS + 2:
        return None
    address = raw.strip()
    if not address or len(address) > MAX_ADDRESS or address.count("@") != 1:
        return None
    local, domain = address.split("@")
    if not local or len(local) > MAX_LOCAL or not set(local) <= _LOCAL_CHARS:
        return None
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    labels = domain.lower().split(".")
    if len(labels) < 2:
        return None
    for label in labels:
        if not label or len(label) > MAX_LABEL or not set(label) <= _LABEL_CHARS:
            return None
        if label.startswith("-") or label.endswith("-"):
            return None
    if labels[-1].isdigit():  # an IP address is not a mail domain here
        return None
    return f"{local}@{'.'.join(labels)}"
