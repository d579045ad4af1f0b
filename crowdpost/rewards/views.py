"""Bonuses as the wire shows them: Toloka's UserBonus for requesters, a localized view for Tolokers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from crowdpost.kit.ids import format_id
from crowdpost.kit.language_choice import pick_language
from crowdpost.kit.money import from_micros
from crowdpost.messaging.policy import sanitize_html
from crowdpost.models import Bonus
from crowdpost.rewards.validation import BonusDraft, clean_title


@lru_cache(maxsize=4096)
def _amount(micros: int) -> Decimal:
    """Batches repeat a few amounts; Decimal formatting is the costly part of a view."""
    return from_micros(micros)


def _user_bonus(item: Bonus | BonusDraft, bonus_id: int | None, created: datetime | str | None) -> dict[str, Any]:
    """Toloka's UserBonus from a stored bonus or a draft (both carry the same fields)."""
    view: dict[str, Any] = {"user_id": item.user_id, "amount": _amount(item.amount_micros)}
    if item.private_comment is not None:
        view["private_comment"] = item.private_comment
    if item.public_title is not None:
        view["public_title"] = item.public_title
    if item.public_message is not None:
        view["public_message"] = item.public_message
    view["without_message"] = item.without_message
    if item.assignment_id is not None:
        view["assignment_id"] = format_id(item.assignment_id)
    if bonus_id is not None:
        view["id"] = format_id(bonus_id)
    if created is not None:
        view["created"] = created
    return view


def bonus_view(bonus: Bonus) -> dict[str, Any]:
    """Toloka's UserBonus: `id` is a fixed-width string whose text order is creation order."""
    return _user_bonus(bonus, bonus.id, bonus.created)


def bonus_input(bonus: Bonus) -> dict[str, Any]:
    """What the client sent for a bonus, as far as the stored row says (log `input`)."""
    view = bonus_view(bonus)
    view.pop("id")
    view.pop("created")
    return view


def draft_view(draft: BonusDraft, bonus_id: int, created: datetime | str) -> dict[str, Any]:
    """The view of a bonus just paid, without reading it back (`created` may be preformatted)."""
    return _user_bonus(draft, bonus_id, created)


# Texts are sanitized when a bonus is stored; rows written before that was so are
# sanitized again on the way to a Toloker. Pages repeat a few texts: each once.
@lru_cache(maxsize=1024)
def _toloker_title(text: str) -> str:
    return clean_title(text)


@lru_cache(maxsize=1024)
def _toloker_message(text: str) -> str:
    return sanitize_html(text)


def toloker_bonus_view(bonus: Bonus, languages: Sequence[str], requester_name: dict[str, str]) -> dict[str, Any]:
    """A Toloker's own bonus: no private comment; title and message in their language,
    the title as plain text and the message through the messages' HTML allow-list."""
    title_language = pick_language(bonus.public_title, languages)
    message_language = pick_language(bonus.public_message, languages)
    name_language = pick_language(requester_name, languages)
    view: dict[str, Any] = {
        "id": format_id(bonus.id),
        "amount": from_micros(bonus.amount_micros),
        "requester": {
            "id": format_id(bonus.requester_id),
            "name": requester_name.get(name_language) if name_language else None,
        },
        "without_message": bonus.without_message,
        "created": bonus.created,
    }
    if bonus.public_title and title_language:
        view["title"] = _toloker_title(bonus.public_title[title_language])
    if bonus.public_message and message_language:
        view["message"] = _toloker_message(bonus.public_message[message_language])
        view["language"] = message_language
    if bonus.assignment_id is not None:
        view["assignment_id"] = format_id(bonus.assignment_id)
    return view
