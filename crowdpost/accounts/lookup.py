"""Look-ups of requesters: the operator's (the /admin Requesters page) and their public names
(what a Toloker's pages call the sender). Reads only."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crowdpost.accounts import repository
from crowdpost.errors import DoesNotExist
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.models import LedgerEntry, Requester

# E-mails are not unique; a look-up shows at most this many requesters sharing one.
MAX_MATCHES = 20


def find_requesters(session: Session, query: str) -> list[Requester]:
    """By public ID (digits) or by e-mail (contains "@"); [] when nobody matches."""
    query = query.strip()
    if "@" in query:
        return repository.requesters_by_email(session, query, MAX_MATCHES)
    number = parse_id(query)
    found = repository.requester_by_id(session, number) if number is not None else None
    return [found] if found is not None else []


def get_requester(session: Session, public_id: str) -> Requester:
    number = parse_id(public_id)
    found = repository.requester_by_id(session, number) if number is not None else None
    if found is None:
        raise DoesNotExist(f"Requester {public_id!r} does not exist")
    return found


def ledger_page(
    session: Session, requester_id: int, before_id: int | None, limit: int
) -> tuple[list[LedgerEntry], int | None]:
    return repository.ledger_page(session, requester_id, before_id, limit)


def public_names(session: Session, public_ids: set[str]) -> dict[str, dict[str, str]]:
    """Public id -> the requester's public name by language (`{"EN": "Demo Labs"}`); unknown
    or malformed ids are left out. One query for the whole set."""
    numbers = {number for number in map(parse_id, public_ids) if number is not None}
    return {format_id(number): name for number, name in repository.requester_names(session, numbers).items()}
