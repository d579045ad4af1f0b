"""A Toloker's own bonuses for their pages, with the total per month. No HTTP, no commit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.kit.pagination import ListParams, SortKey
from crowdpost.rewards import repository
from crowdpost.rewards.views import toloker_bonus_view

# The page shows this many of the newest bonuses; older ones are in the API's pages.
PAGE_SIZE = 200


@dataclass(frozen=True)
class MonthTotal:
    month: str  # YYYY-MM (UTC)
    total: Decimal
    count: int


def toloker_languages(session: Session, user_id: str) -> list[str]:
    return repository.toloker_languages(session, user_id)


def newest_bonuses(session: Session, user_id: str) -> tuple[list[dict[str, Any]], list[MonthTotal], bool]:
    """(views newest first, totals per month of those views, whether older ones exist)."""
    params = ListParams(limit=PAGE_SIZE, sort=[SortKey("created", True), SortKey("id", True)])
    rows, has_more = repository.list_toloker_bonuses(session, user_id, params)
    languages = repository.toloker_languages(session, user_id)
    names = repository.requester_names(session, {b.requester_id for b in rows})
    views = [toloker_bonus_view(b, languages, names.get(b.requester_id, {})) for b in rows]
    totals: dict[str, tuple[Decimal, int]] = {}
    for bonus, view in zip(rows, views, strict=True):
        month = bonus.created.strftime("%Y-%m")
        total, count = totals.get(month, (Decimal(0), 0))
        totals[month] = (total + Decimal(view["amount"]), count + 1)
    months = [MonthTotal(month, total, count) for month, (total, count) in totals.items()]
    return views, months, has_more
