"""Pay a group: the same bonus to every Toloker of an audience, as one async operation.

An audience is one of

    FILTER    the filter builder's JSON (Toloka's filter language), as a message's FILTER send
    STARTED   everyone who started at least N of this requester's tasks (a send to ALL has N=2)
    POOL      the Tolokers with an assignment in one pool of this requester

and is worked out by the workforce service exactly as messaging works out a send's audience
(`plan_audience` / `plan_pool_audience`: the filter compiled to one SQL condition, banned
Tolokers left out and counted in the same statement). The preview counts and prices it without
loading anyone; paying streams the members in Toloker id order and hands the items to
`service.do_create_bonuses` (async, all or nothing), the service of `POST /user-bonuses`.

That service takes the items as a list, so a group is capped at `MAX_RECIPIENTS`, the size of
the largest async batch the API carries (a 32 MB body, the same 100,000 as a bonus file); a
larger audience is refused in the preview and at payment, never cut short. The items share one
amount and one title and message object, so 100,000 of them are a few tens of MB for the
moment of the request.

No HTTP here and no commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from crowdpost.accounts import service as accounts
from crowdpost.config import Settings
from crowdpost.errors import DoesNotExist, PayloadTooLarge, ValidationFailed, field_error
from crowdpost.kit.money import Priced, from_micros
from crowdpost.models import Operation
from crowdpost.operations import service as operations
from crowdpost.rewards import repository, service
from crowdpost.rewards.bonus_file import MAX_ROWS
from crowdpost.rewards.ledger import NotEnoughBalance
from crowdpost.rewards.validation import BonusDraft, check_amount, check_item
from crowdpost.workforce.schemas import AudienceRequest
from crowdpost.workforce.service.audience import AudiencePlan, plan_audience, plan_pool_audience

# The largest async batch: what one POST /user-bonuses carries (PRODUCT.md: 32 MB, 100,000 bonuses).
MAX_RECIPIENTS = MAX_ROWS
MAX_STARTED = 1_000_000
# A placeholder Toloker for checking the bonus's texts once before any item exists.
_SAMPLE_USER = "group-bonus-check"

Kind = Literal["FILTER", "STARTED", "POOL"]


@dataclass(frozen=True)
class Audience:
    kind: Kind
    recipients_filter: dict[str, Any] | None = None  # FILTER
    min_started: int = 1  # STARTED
    pool_id: str = ""  # POOL


@dataclass(frozen=True)
class GroupBonus:
    """What each Toloker of the group gets. `amount`: as typed; checked by `check_bonus`."""

    amount: str
    title: dict[str, str] | None = None
    message: dict[str, str] | None = None
    without_message: bool = False
    private_comment: str | None = None

    def item(self, user_id: str, amount: Decimal | str) -> dict[str, Any]:
        """The API's bonus item for one Toloker (the text dicts are shared, not copied)."""
        item: dict[str, Any] = {"user_id": user_id, "amount": amount}
        if self.without_message:
            item["without_message"] = True
        else:
            item["public_title"] = self.title
            item["public_message"] = self.message
        if self.private_comment:
            item["private_comment"] = self.private_comment
        return item


@dataclass(frozen=True)
class Cost(Priced):
    """An audience priced: exact micros throughout."""

    count: int
    banned: int
    amount_micros: int
    fee_micros: int
    balance_micros: int
    limit: int  # MAX_RECIPIENTS when priced

    @property
    def total_micros(self) -> int:
        return self.count * self.amount_micros

    @property
    def enough(self) -> bool:
        return self.balance_after_micros >= 0

    @property
    def too_many(self) -> bool:
        return self.count > self.limit


def check_amount_text(raw: str, settings: Settings) -> int:
    """The amount in micros, or ValidationFailed with the API's own words (never rounded)."""
    result = check_amount(raw.strip(), service.rules_from(settings))
    if isinstance(result, dict):
        raise ValidationFailed({"amount": result})
    return result


def check_bonus(bonus: GroupBonus, settings: Settings) -> int:
    """The bonus's amount in micros after the API's item check of its amount and texts,
    run once on a sample item (every item differs only in its Toloker)."""
    result = check_item(0, bonus.item(_SAMPLE_USER, bonus.amount.strip()), service.rules_from(settings), None)
    if not isinstance(result, BonusDraft):
        raise ValidationFailed(result)
    return result.amount_micros


def check_audience(audience: Audience) -> None:
    if audience.kind == "FILTER" and not audience.recipients_filter:
        raise ValidationFailed({"recipients_filter": field_error("VALUE_REQUIRED", "add at least one filter")})
    if audience.kind == "STARTED" and not 1 <= audience.min_started <= MAX_STARTED:
        raise ValidationFailed(
            {"min_started": field_error("VALUE_LESS_THAN_MIN", f"N is a whole number from 1 to {MAX_STARTED:,}", 1)}
        )
    if audience.kind == "POOL" and not audience.pool_id:
        raise ValidationFailed({"pool_id": field_error("VALUE_REQUIRED", "choose a pool")})


def plan(session: Session, requester_id: int, audience: Audience) -> AudiencePlan:
    """The audience worked out by the workforce service (counts and the members' SELECT).
    Raises ValidationFailed for a bad filter and DoesNotExist for a pool that is not this
    requester's."""
    check_audience(audience)
    if audience.kind == "POOL":
        return plan_pool_audience(session, requester_id, audience.pool_id)
    if audience.kind == "STARTED":
        request = AudienceRequest(requester_id, "ALL")
        return plan_audience(session, request, min_started=audience.min_started)
    request = AudienceRequest(requester_id, "FILTER", recipients_filter=audience.recipients_filter)
    return plan_audience(session, request, min_started=1)


def price(session: Session, settings: Settings, requester_id: int, counted: AudiencePlan, amount_micros: int) -> Cost:
    """What paying `amount_micros` to each member costs: the fee is on the total, as the
    async batch reserves it (`service.fee_of`)."""
    total = counted.counts.count * amount_micros
    return Cost(
        count=counted.counts.count,
        banned=counted.counts.banned,
        amount_micros=amount_micros,
        fee_micros=service.fee_of(total, service.rules_from(settings)),
        balance_micros=accounts.get_requester(session, requester_id).balance_micros,
        limit=MAX_RECIPIENTS,
    )


def check_payable(cost: Cost) -> None:
    """Nobody to pay, more than one batch takes, or more than the balance: refused, nothing paid."""
    if cost.count == 0:
        raise ValidationFailed({"audience": field_error("VALUE_REQUIRED", "nobody in this group would be paid")})
    if cost.too_many:
        raise PayloadTooLarge(
            f"This group has {cost.count:,} Tolokers; one payment takes at most {cost.limit:,} "
            "(the largest async batch). Narrow the group, or pay it in parts. Nothing was paid."
        )
    if not cost.enough:
        raise NotEnoughBalance(
            f"Not enough money: paying this group costs {from_micros(cost.cost_micros)} and the balance is "
            f"{from_micros(cost.balance_micros)}. Nothing was paid.",
            payload={"balance": from_micros(cost.balance_micros)},
        )


def items(session: Session, counted: AudiencePlan, bonus: GroupBonus) -> list[dict[str, Any]]:
    """One item per member, in Toloker id order, read in pages from the members' SELECT.
    More than MAX_RECIPIENTS members (the group grew since it was counted) raises PayloadTooLarge."""
    limit = MAX_RECIPIENTS
    amount = Decimal(bonus.amount.strip())  # one object, shared by every item
    found: list[dict[str, Any]] = []
    for (user_id,) in repository.group_member_rows(session, counted.members, limit + 1):
        found.append(bonus.item(user_id, amount))
    if len(found) > limit:
        raise PayloadTooLarge(f"This group has more than {limit:,} Tolokers now; nothing was paid.")
    return found


def find_operation(session: Session, requester_id: int, operation_id: str) -> Operation | None:
    try:
        return operations.get_operation(session, requester_id, operation_id)
    except DoesNotExist:
        return None


def do_pay_group(
    session: Session, settings: Settings, requester_id: int, audience: Audience, bonus: GroupBonus, operation_id: str
) -> tuple[Operation, bool]:
    """Starts one `USER_BONUS.BATCH_CREATE` operation paying `bonus` to every member:
    (operation, started now). An operation already under `operation_id` (the same form
    submitted twice) is answered instead, and nothing more is paid.

    Raises ValidationFailed (amount, texts, filter, nobody to pay), DoesNotExist (pool),
    PayloadTooLarge (more than MAX_RECIPIENTS) and NotEnoughBalance, having paid nothing;
    the caller rolls back its savepoint on any of them."""
    existing = find_operation(session, requester_id, operation_id)
    if existing is not None:
        return existing, False
    amount_micros = check_bonus(bonus, settings)
    counted = plan(session, requester_id, audience)
    check_payable(price(session, settings, requester_id, counted, amount_micros))
    request = service.BonusRequest(async_mode=True, operation_id=operation_id)
    try:
        answer = service.do_create_bonuses(session, settings, requester_id, items(session, counted, bonus), request)
    except operations.OperationAlreadyExists:
        # The same form, submitted twice at once: the other request's operation won the unique key.
        return operations.get_operation(session, requester_id, operation_id), False
    assert isinstance(answer, service.BatchAccepted)
    operation = answer.operation
    if operation.status == operations.FAIL:  # the balance changed since it was priced
        error = operation.details.get("error") or {}
        raise NotEnoughBalance(str(error.get("message") or "Not enough money on the balance; nothing was paid."))
    return operation, True
