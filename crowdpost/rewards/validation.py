"""Checking bonus items: their shape item by item (plain Python, no I/O), then their
references for the whole batch at once (one query for the Tolokers, one for the
assignments), then duplicates within one request.

Errors are Toloka field errors keyed by field, e.g.
`{"amount": {"code": "VALUE_LESS_THAN_MIN", "message": "...", "params": [0.001]}}`.
Hand-written rather than a pydantic model: this runs for every item of batches of
100,000, and the rules (exact decimals, the message/without_message pairing) are
simple enough to read as code.

Texts that no backend can store the same way (U+0000, lone surrogates) are item errors
(`CHARACTER_NOT_ALLOWED`), so a batch stored before that was refused at the API still
ends the same on SQLite and PostgreSQL. A valid title and message leave here already
sanitized for Tolokers (the drafts carry them, the bonus rows store them): the message
through the messages' HTML allow-list, the title as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import simplejson
from sqlalchemy.orm import Session

from crowdpost.errors import ConflictState, field_error
from crowdpost.kit.ids import parse_id
from crowdpost.kit.money import decimal_places, to_micros
from crowdpost.messaging.policy import plain_text, sanitize_html
from crowdpost.rewards import repository

ItemErrors = dict[str, dict[str, Any]]

AMOUNT_PLACES = 3
MAX_USER_ID = 64
MAX_COMMENT = 4096
MAX_TITLE = 1024
MAX_MESSAGE = 16384
# A plain decimal written as a string ("1.50"); anything else in a string is junk.
_NUMERIC_TEXT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,15})?$")
_LANGUAGE = re.compile(r"^[A-Z]{2}(-[A-Z]{2,4})?$")

DUPLICATE_MESSAGE = (
    "It is not allowed to apply multiple bonuses with the same amount, title, message and comment "
    "to same user in single operation"
)


@dataclass(frozen=True)
class AmountRules:
    """The bounds in force for a request (operations keep the ones they were accepted with)."""

    min_amount: Decimal
    max_amount: Decimal
    fee_percent: Decimal


@dataclass(slots=True)
class BonusDraft:
    """One valid-looking item, ready to pay once its references check out."""

    index: int
    user_id: str
    amount_micros: int
    assignment_id: int | None
    private_comment: str | None
    public_title: dict[str, str] | None
    public_message: dict[str, str] | None
    without_message: bool


class DuplicateBonuses(ConflictState):
    """Toloka's 409 for two equal bonuses to one Toloker in one request."""

    def __init__(self, first: int, second: int) -> None:
        body = {"user_id": {"code": "ENTITY_CONFLICT", "message": DUPLICATE_MESSAGE}}
        super().__init__(
            f"Items {first} and {second} are the same bonus to the same Toloker; nothing was paid",
            payload=body,
            extra=body,
        )


# The Decimal amount last found valid, its rules and micros: batches usually pay one
# amount to everyone. Equal Decimals ("0.5", "0.50") are equally valid with equal micros.
# Swapped in whole (thread-safe).
_last_valid: tuple[AmountRules, Decimal, int] | None = None


def check_amount(value: Any, rules: AmountRules) -> int | dict[str, Any]:
    """Micros of an exact amount within the bounds, or the field error. Never rounds."""
    global _last_valid
    last = _last_valid
    if last is not None and type(value) is Decimal and last[0] is rules and value.is_finite() and value == last[1]:
        return last[2]
    result = _check_amount(value, rules)
    if type(value) is Decimal and isinstance(result, int):
        _last_valid = (rules, value, result)
    return result


def _check_amount(value: Any, rules: AmountRules) -> int | dict[str, Any]:
    if isinstance(value, bool | float):
        # bool is an int to Python; a float has already lost the exact value.
        return field_error("FLOAT_EXPECTED", "amount must be a JSON number such as 1.50")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str) and _NUMERIC_TEXT.match(value):
        amount = Decimal(value)
    else:
        return field_error("FLOAT_EXPECTED", "amount must be a JSON number such as 1.50")
    if not amount.is_finite():
        return field_error("FLOAT_EXPECTED", "amount must be a finite number")
    if amount < rules.min_amount:
        return field_error("VALUE_LESS_THAN_MIN", f"amount must be at least {rules.min_amount}", rules.min_amount)
    if amount > rules.max_amount:
        return field_error("VALUE_GREATER_THAN_MAX", f"amount must be at most {rules.max_amount}", rules.max_amount)
    exponent = amount.as_tuple().exponent
    # Only a long fraction can hide extra places ("1.0000" has none): normalize just then.
    if isinstance(exponent, int) and exponent < -AMOUNT_PLACES and decimal_places(amount) > AMOUNT_PLACES:
        return field_error(
            "INVALID_VALUE",
            f"amount has more than {AMOUNT_PLACES} decimal places; amounts are never rounded",
            AMOUNT_PLACES,
        )
    return to_micros(amount)


def unstorable(text: str) -> bool:
    """U+0000 (PostgreSQL refuses it, SQLite keeps it) or a lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _not_allowed() -> dict[str, Any]:
    return field_error("CHARACTER_NOT_ALLOWED", "U+0000 and lone surrogates cannot be stored")


def _check_text(value: Any, limit: int) -> dict[str, Any] | None:
    if not isinstance(value, str):
        return field_error("STRING_EXPECTED", "must be a string")
    if len(value) > limit:
        return field_error("STRING_LENGTH_GREATER_THAN_MAX", f"at most {limit} characters", limit)
    if unstorable(value):
        return _not_allowed()
    return None


# Per field, the text object last checked, its error and its sanitized form: batches
# usually repeat one title and one message, so each distinct text is checked and
# sanitized once. Entries are swapped in whole (thread-safe).
_last_checked: dict[str, tuple[dict[str, Any], dict[str, Any] | None, dict[str, str] | None]] = {}
_TITLE_PASSES = 4


def clean_title(text: str) -> str:
    """A title as plain text that stays plain: `plain_text` decodes entities, so
    "&lt;script&gt;" would come out as a tag; it runs again until nothing changes (one
    pass per level of encoding), and a text still changing after that loses its angle
    brackets. A result never holds markup an HTML parser would see."""
    for _ in range(_TITLE_PASSES):
        cleaned = plain_text(text)
        if cleaned == text:
            return cleaned
        text = cleaned
    return text.replace("<", "").replace(">", "")


_TEXT_FIELDS = {"public_title": (MAX_TITLE, clean_title), "public_message": (MAX_MESSAGE, sanitize_html)}


def _check_lang_text(field: str, value: Any) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """A language -> text object such as {"EN": "...", "RU": "..."}: (error, sanitized)."""
    last = _last_checked.get(field)
    if last is not None and value == last[0]:
        return last[1], last[2]
    limit, clean = _TEXT_FIELDS[field]
    problem = _lang_text_problem(value, limit)
    cleaned = None if problem else {language: clean(text) for language, text in value.items()}
    if isinstance(value, dict):
        _last_checked[field] = (dict(value), problem, cleaned)
    return problem, cleaned


def _lang_text_problem(value: Any, limit: int) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return field_error("OBJECT_EXPECTED", 'must be an object of language -> text, e.g. {"EN": "..."}')
    if not value:
        return field_error("EMPTY_OBJECT_NOT_ALLOWED", "give the text in at least one language")
    for language, text in value.items():
        if not _LANGUAGE.match(language):
            return field_error("PATTERN_MISMATCH", f"{language!r} is not a language code such as EN", language)
        if not isinstance(text, str) or not text.strip():
            return field_error("STRING_EXPECTED", f"the {language} text must be a non-blank string", language)
        if len(text) > limit:
            return field_error("STRING_LENGTH_GREATER_THAN_MAX", f"at most {limit} characters", limit)
        if unstorable(text):
            return _not_allowed()
    return None


@dataclass(slots=True)
class _Message:
    without: bool = False
    title: dict[str, str] | None = None
    text: dict[str, str] | None = None


def _check_message(item: dict[str, Any], errors: ItemErrors) -> _Message:
    """without_message and the sanitized texts; a message needs a title and text, no
    message needs both null."""
    message = _Message()
    without = item.get("without_message")
    if without is None:
        without = False
    elif not isinstance(without, bool):
        errors["without_message"] = field_error("BOOLEAN_EXPECTED", "must be true or false")
        return message
    message.without = without
    for field in ("public_title", "public_message"):
        value = item.get(field)
        if without:
            if value is not None:
                errors[field] = field_error("VALUE_NOT_ALLOWED", f"{field} must be null when without_message is true")
        elif value is None:
            errors[field] = field_error(
                "VALUE_REQUIRED", f"{field} is required unless without_message is true (then it must be null)"
            )
        else:
            problem, cleaned = _check_lang_text(field, value)
            if problem:
                errors[field] = problem
            elif field == "public_title":
                message.title = cleaned
            else:
                message.text = cleaned
    return message


def check_item(
    index: int, item: Any, rules: AmountRules, default_assignment: str | None = None
) -> BonusDraft | ItemErrors:
    """The item as a draft, or its field errors. Unknown keys (`__item_idx`, `id`...) are ignored."""
    if not isinstance(item, dict):
        return {"item": field_error("OBJECT_EXPECTED", "each bonus must be a JSON object")}
    errors: ItemErrors = {}
    user_id = item.get("user_id")
    if user_id is None:
        errors["user_id"] = field_error("VALUE_REQUIRED", "user_id is required")
    elif not isinstance(user_id, str) or not user_id:
        errors["user_id"] = field_error("STRING_EXPECTED", "user_id must be a non-empty string")
    elif len(user_id) > MAX_USER_ID:
        errors["user_id"] = field_error("STRING_LENGTH_GREATER_THAN_MAX", "no such Toloker", MAX_USER_ID)
    elif unstorable(user_id):
        errors["user_id"] = _not_allowed()
    amount = item.get("amount")
    micros: int | dict[str, Any] = (
        field_error("VALUE_REQUIRED", "amount is required") if amount is None else check_amount(amount, rules)
    )
    if isinstance(micros, dict):
        errors["amount"] = micros
    assignment = item.get("assignment_id")
    if assignment is None:
        assignment = default_assignment
    assignment_id: int | None = None
    if assignment is not None:
        assignment_id = parse_id(assignment) if isinstance(assignment, str) else None
        if assignment_id is None:
            errors["assignment_id"] = field_error("ENTITY_DOES_NOT_EXIST", "no such assignment", str(assignment))
    comment = item.get("private_comment")
    if comment is not None and (problem := _check_text(comment, MAX_COMMENT)):
        errors["private_comment"] = problem
    message = _check_message(item, errors)
    if errors:
        return errors
    assert isinstance(micros, int)
    assert isinstance(user_id, str)
    return BonusDraft(
        index=index,
        user_id=user_id,
        amount_micros=micros,
        assignment_id=assignment_id,
        private_comment=comment,
        public_title=message.title,
        public_message=message.text,
        without_message=message.without,
    )


def check_references(session: Session, requester_id: int, drafts: Sequence[BonusDraft]) -> dict[int, ItemErrors]:
    """Errors by item index for Tolokers who never started this requester's tasks and for
    assignments that are not that Toloker's in this requester's pools. Set-based."""
    errors: dict[int, ItemErrors] = {}
    if not drafts:
        return errors
    workers = repository.started_tolokers(session, requester_id, sorted({d.user_id for d in drafts}))
    wanted = sorted({d.assignment_id for d in drafts if d.assignment_id is not None})
    owners = repository.assignment_owners(session, requester_id, wanted)
    for draft in drafts:
        if draft.user_id not in workers:
            # Same answer for unknown Tolokers and other requesters' workers: no leak.
            errors.setdefault(draft.index, {})["user_id"] = field_error(
                "ENTITY_DOES_NOT_EXIST", "no such Toloker among those who started your tasks", draft.user_id
            )
        if draft.assignment_id is not None and owners.get(draft.assignment_id) != draft.user_id:
            errors.setdefault(draft.index, {})["assignment_id"] = field_error(
                "ENTITY_DOES_NOT_EXIST", "no such assignment of this Toloker in your pools", draft.assignment_id
            )
    return errors


def _loose_key(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    user_id, amount, comment = item.get("user_id"), item.get("amount"), item.get("private_comment")
    if not isinstance(user_id, str) or isinstance(amount, dict | list) or amount is None:
        return None
    return (user_id, amount, comment if isinstance(comment, str) else None)


def _full_key(item: dict[str, Any]) -> Hashable:
    """Title, message and comment as one hashable value; dict order does not matter."""
    texts = (item.get("public_title"), item.get("public_message"), item.get("private_comment"))
    key = tuple(tuple(sorted(t.items())) if isinstance(t, dict) else t for t in texts)
    try:
        hash(key)
    except TypeError:  # nested junk: compare its JSON (the item is invalid anyway)
        return simplejson.dumps(texts, sort_keys=True, use_decimal=True)
    return key


def check_no_duplicates(items: Sequence[Any]) -> None:
    """DuplicateBonuses if two items pay the same amount with the same texts to one Toloker.

    A cheap (user, amount, comment) key first; texts are compared only where it repeats.
    """
    first_of: dict[Any, int] = {}
    repeats: dict[Any, list[int]] = {}
    for index, item in enumerate(items):
        key = _loose_key(item)
        if key is None:
            continue
        first = first_of.setdefault(key, index)
        if first != index:
            repeats.setdefault(key, [first]).append(index)
    for indexes in repeats.values():
        texts: dict[Hashable, int] = {}
        for index in indexes:
            full = _full_key(items[index])
            if full in texts:
                raise DuplicateBonuses(texts[full], index)
            texts[full] = index
