"""Past bonuses of one requester for the Rewards page: filters, keyset pages, a streamed export.

Every query filters by `requester_id`; pages go by id (`before_id`), never by offset, so an
export walks any number of bonuses in pages of `EXPORT_PAGE` in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from crowdpost.db import Database
from crowdpost.models import Bonus
from crowdpost.rewards import repository
from crowdpost.rewards.repository import BonusQuery as BonusQuery

PAGE_SIZE = 50
EXPORT_PAGE = 1000


def one_bonus(session: Session, requester_id: int, public_id: str) -> Bonus | None:
    """The requester's bonus with that public id (what `GET /user-bonuses/{id}` reads), or None."""
    return repository.get_bonus(session, requester_id, public_id)


def bonus_page(
    session: Session, requester_id: int, query: BonusQuery, *, before_id: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[Bonus], int | None]:
    """Newest first, and the `before_id` of the next page (None at the end)."""
    return repository.bonus_history_page(session, requester_id, query, before_id, limit)


def iter_bonuses(db: Database, requester_id: int, query: BonusQuery) -> Iterator[Bonus]:
    """Every matching bonus, newest first, one short read transaction per page (the rows are
    detached afterwards: read only their column attributes)."""
    before_id: int | None = None
    while True:
        with db.transaction(write=False) as session:
            bonuses, before_id = bonus_page(session, requester_id, query, before_id=before_id, limit=EXPORT_PAGE)
            session.expunge_all()
        yield from bonuses
        if before_id is None:
            return
