"""`/api/v1/user-bonuses`: Toloka's bonus API (sync and async), scoped to the caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from sqlalchemy.orm import Session

from crowdpost.accounts.auth import RequesterDep, as_requester, identify
from crowdpost.dependencies import SessionDep, SettingsDep, get_db
from crowdpost.errors import DoesNotExist
from crowdpost.kit.list_query import PagingDep
from crowdpost.kit.pagination import list_answer
from crowdpost.kit.routing import WireRoute, json_body
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.operations.schemas import OperationView
from crowdpost.operations.service import operation_view
from crowdpost.rewards import repository, service
from crowdpost.rewards.schemas import UserBonusBatchResult, UserBonusForm, UserBonusPage, UserBonusView
from crowdpost.rewards.views import bonus_view

router = APIRouter(route_class=WireRoute, tags=["rewards"])

_BODY = json_body(
    {"oneOf": [UserBonusForm.model_json_schema(), {"type": "array", "items": UserBonusForm.model_json_schema()}]}
)


@router.post(
    "/user-bonuses",
    status_code=201,
    summary="Issue bonuses (one object or a list; async_mode=true for any size)",
    responses={201: {"model": UserBonusBatchResult | UserBonusView}, 202: {"model": OperationView}},
    openapi_extra=_BODY,
)
async def create_user_bonuses(
    http: Request,
    settings: SettingsDep,
    authorization: str | None = Header(None),
    async_mode: bool = Query(False, description="true: store the batch and pay in the background"),
    skip_invalid_items: bool = Query(False, description="true: pay the valid items, report the others"),
    operation_id: str | None = Query(None, description="Idempotency key; the async operation's id"),
    assignment_id: str | None = Query(None, description="Default assignment_id for items without one"),
    body: Any = Body(None),
) -> WireJSONResponse:
    request = service.BonusRequest(async_mode, skip_invalid_items, operation_id, assignment_id)

    def pay(session: Session) -> tuple[int, Any]:
        # The token check is part of the unit: on SQLite the whole transaction runs in the
        # group commit (`Database.writes`), where a request-scoped session would hold the lock.
        caller = as_requester(identify(session, settings, authorization))
        return _answer(service.do_create_bonuses(session, settings, caller.requester_id, body, request))

    status, answer = await get_db(http).writes.run(pay)
    return wire(answer, status_code=status)


def _answer(outcome: service.BonusesCreated | service.BatchAccepted) -> tuple[int, Any]:
    """(status, body): 202 and the operation for a stored batch; 201 and the bonus for one
    object; 201 and the items by index with each other item's errors for a list."""
    if isinstance(outcome, service.BatchAccepted):
        return 202, operation_view(outcome.operation)
    if outcome.single:
        return 201, outcome.items[0]
    return 201, {
        "items": {str(i): v for i, v in sorted(outcome.items.items())},
        "validation_errors": {str(i): e for i, e in sorted(outcome.errors.items())},
    }


def bonus_filters(
    user_id: str | None = Query(None),
    assignment_id: str | None = Query(None),
    private_comment: str | None = Query(None),
) -> repository.BonusFilters:
    return repository.BonusFilters(user_id, assignment_id, private_comment)


@router.get("/user-bonuses", response_model=UserBonusPage, summary="Get list of bonuses")
def find_user_bonuses(
    caller: RequesterDep,
    session: SessionDep,
    filters: Annotated[repository.BonusFilters, Depends(bonus_filters)],
    params: PagingDep,
) -> WireJSONResponse:
    rows, has_more = repository.list_bonuses(session, caller.requester_id, filters, params)
    return wire(list_answer(rows, has_more, bonus_view))


@router.get("/user-bonuses/{bonus_id}", response_model=UserBonusView, summary="Get bonus by ID")
def get_user_bonus(caller: RequesterDep, session: SessionDep, bonus_id: str) -> WireJSONResponse:
    bonus = repository.get_bonus(session, caller.requester_id, bonus_id)
    if bonus is None:
        raise DoesNotExist(f"Bonus {bonus_id!r} does not exist")
    return wire(bonus_view(bonus))
