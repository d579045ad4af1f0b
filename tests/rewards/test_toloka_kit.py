"""The real toloka-kit 1.2.3 (sync and async clients) paying and reading bonuses and operations."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest
from toloka.async_client import AsyncTolokaClient
from toloka.client import TolokaClient
from toloka.client.exceptions import IncorrectActionsApiError, ValidationApiError
from toloka.client.operations import OperationType
from toloka.client.search_requests import UserBonusSearchRequest
from toloka.client.user_bonus import UserBonus

from crowdpost.db import Database
from crowdpost.worker.loop import EmbeddedWorker
from tests.rewards.helpers import Crew, balance_of, bonus_count, paid_total


def _bonus(user_id: str, amount: str, **fields: Any) -> UserBonus:
    values: dict[str, Any] = {
        "public_title": {"EN": "Thank you", "RU": "Спасибо"},
        "public_message": {"EN": "Great work"},
        "without_message": False,
    }
    values.update(fields)
    return UserBonus(user_id=user_id, amount=Decimal(amount), **values)


@pytest.fixture
def toloka(server_url: str, crew: Crew) -> TolokaClient:
    return TolokaClient(crew.requester.token, url=server_url, retries=0)


def test_create_user_bonus_sync_and_default(
    toloka: TolokaClient, crew: Crew, db: Database, worker: EmbeddedWorker
) -> None:
    synced = toloka.create_user_bonus(
        _bonus(crew.user_ids[0], "0.007", private_comment="pc", assignment_id=crew.assignment_ids[0]),
        async_mode=False,
    )
    defaulted = toloka.create_user_bonus(_bonus(crew.user_ids[1], "99.993"))

    assert synced.amount == Decimal("0.007")
    assert synced.assignment_id == crew.assignment_ids[0]
    assert synced.private_comment == "pc"
    assert defaulted.amount == Decimal("99.993")
    assert defaulted.user_id == crew.user_ids[1]
    assert defaulted.public_title == {"EN": "Thank you", "RU": "Спасибо"}
    assert defaulted.id is not None
    assert synced.id is not None
    assert defaulted.id > synced.id
    assert toloka.get_user_bonus(synced.id) == synced
    assert balance_of(db, crew.requester.id) == Decimal(0)


def test_create_user_bonuses_default_path_reports_items_and_errors(
    toloka: TolokaClient, crew: Crew, db: Database, worker: EmbeddedWorker
) -> None:
    bonuses = [_bonus(uid, "0.01", private_comment=str(n)) for n in range(4) for uid in crew.user_ids]
    bonuses.insert(1, _bonus(crew.user_ids[0], "0.0001"))  # 13 items: ids cross ...9 -> ...10

    result = toloka.create_user_bonuses(bonuses, skip_invalid_items=True)

    assert result.items is not None
    assert result.validation_errors is not None
    assert sorted(result.items, key=int) == [str(i) for i in range(13) if i != 1]
    # Errors of the default (async) path arrive as plain dicts, not FieldValidationError.
    assert result.validation_errors["1"]["amount"]["code"] == "VALUE_LESS_THAN_MIN"  # type: ignore[index]
    assert result.items["0"].user_id == crew.user_ids[0]
    assert result.items["12"].private_comment == "3"
    assert bonus_count(db) == 12
    assert paid_total(db, crew.requester.id) == Decimal("0.12")


def test_all_invalid_default_path_raises_validation_error(
    toloka: TolokaClient, crew: Crew, db: Database, worker: EmbeddedWorker
) -> None:
    with pytest.raises(ValidationApiError) as caught:
        toloka.create_user_bonuses([_bonus(crew.user_ids[0], "101")], skip_invalid_items=True)

    assert caught.value.payload is not None
    assert caught.value.payload["0"]["amount"]["code"] == "VALUE_GREATER_THAN_MAX"
    assert bonus_count(db) == 0


def test_create_user_bonuses_sync(toloka: TolokaClient, crew: Crew, db: Database) -> None:
    bonuses = [_bonus(crew.user_ids[0], "1.5"), _bonus(crew.user_ids[1], "0")]

    result = toloka.create_user_bonuses(bonuses, async_mode=False, skip_invalid_items=True)

    assert result.items is not None
    assert result.validation_errors is not None
    assert list(result.items) == ["0"]
    assert result.items["0"].amount == Decimal("1.5")
    assert result.validation_errors["1"]["amount"].code == "VALUE_LESS_THAN_MIN"
    with pytest.raises(ValidationApiError):
        toloka.create_user_bonuses(bonuses, async_mode=False)
    with pytest.raises(IncorrectActionsApiError) as caught:
        toloka.create_user_bonuses([_bonus(crew.user_ids[2], "99")], async_mode=False)
    assert caught.value.code == "NOT_ENOUGH_BALANCE"
    assert paid_total(db, crew.requester.id) == Decimal("1.5")


def test_same_operation_id_twice_pays_once(
    toloka: TolokaClient, crew: Crew, db: Database, worker: EmbeddedWorker
) -> None:
    # toloka-kit types operation_id as UUID; it sends str(operation_id), so a str is what users pass.
    operation_id = str(uuid.uuid4())
    bonuses = [_bonus(crew.user_ids[0], "2"), _bonus(crew.user_ids[1], "3")]

    first = toloka.create_user_bonuses(bonuses, operation_id=operation_id)  # type: ignore[call-overload]
    second = toloka.create_user_bonuses(  # type: ignore[call-overload]
        bonuses, operation_id=operation_id
    )  # 409 -> reads the operation

    assert {k: v.id for k, v in second.items.items()} == {k: v.id for k, v in first.items.items()}
    assert len(first.items) == 2
    assert paid_total(db, crew.requester.id) == Decimal(5)
    sync_id = str(uuid.uuid4())
    once = toloka.create_user_bonus(  # type: ignore[call-overload]
        _bonus(crew.user_ids[2], "1"), operation_id=sync_id, async_mode=False
    )
    again = toloka.create_user_bonus(  # type: ignore[call-overload]
        _bonus(crew.user_ids[2], "1"), operation_id=sync_id, async_mode=False
    )
    assert again == once
    assert balance_of(db, crew.requester.id) == Decimal(94)


def test_async_operation_and_reading_it_back(
    toloka: TolokaClient, crew: Crew, db: Database, worker: EmbeddedWorker
) -> None:
    bonuses = [_bonus(uid, "0.5", private_comment=f"n{n}") for n in range(3) for uid in crew.user_ids]

    operation = toloka.create_user_bonuses_async(bonuses, skip_invalid_items=True)
    done = toloka.wait_operation(operation, disable_progress=True)

    assert done.id == operation.id
    assert done.status == done.Status.SUCCESS
    assert done.details is not None
    assert done.parameters is not None
    assert operation.id is not None
    assert done.details.success_count == 9
    assert done.parameters.skip_invalid_items is True
    assert toloka.get_operation(operation.id).status == done.Status.SUCCESS
    log = toloka.get_operation_log(operation.id)
    assert len(log) == 9
    assert all(entry.success for entry in log)
    found = toloka.find_operations(  # type: ignore[call-overload]  # status: a str, sent as-is
        type=OperationType.USER_BONUS_BATCH_CREATE, status="SUCCESS"
    )
    assert [op.id for op in found.items] == [operation.id]
    assert found.has_more is False
    mine = toloka.find_user_bonuses(user_id=crew.user_ids[0], sort=["-id"], limit=2)
    assert mine.items is not None
    assert mine.items[0].id is not None
    assert mine.items[1].id is not None
    assert len(mine.items) == 2
    assert mine.has_more is True
    assert mine.items[0].id > mine.items[1].id
    by_comment = toloka.find_user_bonuses(private_comment="n1")
    assert by_comment.items is not None
    # toloka-kit declares user_id and output Optional; sorting and indexing them is the check.
    assert sorted(b.user_id for b in by_comment.items) == sorted(crew.user_ids)  # type: ignore[type-var]
    everything = list(toloka.get_user_bonuses(UserBonusSearchRequest(), batch_size=2))
    assert len(everything) == 9
    assert len({b.id for b in everything}) == 9
    assert [entry.output["user_bonus_id"] for entry in log] == [b.id for b in everything]  # type: ignore[index]
    assert len(list(toloka.get_operations(batch_size=1))) == 1


def test_async_client(server_url: str, crew: Crew, db: Database, worker: EmbeddedWorker) -> None:
    async def scenario() -> tuple[UserBonus, int]:
        client = AsyncTolokaClient(crew.requester.token, url=server_url, retries=0)
        paid = await client.create_user_bonus(_bonus(crew.user_ids[0], "0.001"))
        result = await client.create_user_bonuses([_bonus(crew.user_ids[1], "0.002")], async_mode=False)
        count = 0
        async for _ in client.get_user_bonuses(UserBonusSearchRequest(), batch_size=1):
            count += 1
        assert result.items is not None
        assert result.items["0"].amount == Decimal("0.002")
        return paid, count

    paid, count = asyncio.run(scenario())

    assert paid.amount == Decimal("0.001")
    assert count == 2
    assert paid_total(db, crew.requester.id) == Decimal("0.003")
