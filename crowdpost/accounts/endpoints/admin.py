"""`/api/admin/v1/requesters...` and Toloker tokens: the operator's account tools."""

from __future__ import annotations

from fastapi import APIRouter

from crowdpost.accounts import service
from crowdpost.accounts.auth import OperatorDep
from crowdpost.accounts.schemas import (
    DepositCreate,
    DepositCreated,
    RequesterCreate,
    RequesterCreated,
    RequesterView,
    TokenCreated,
)
from crowdpost.db import SessionDep
from crowdpost.kit.ids import format_id
from crowdpost.kit.jsonwire import WireJSONResponse, wire
from crowdpost.kit.money import from_micros
from crowdpost.kit.routing import WireRoute

router = APIRouter(route_class=WireRoute, tags=["admin: accounts"])


@router.post("/requesters", status_code=201, response_model=RequesterCreated, summary="Create a requester")
def create_requester(body: RequesterCreate, _: OperatorDep, session: SessionDep) -> WireJSONResponse:
    created = service.do_create_requester(
        session,
        public_name=body.public_name,
        company=body.company,
        email=body.email,
        balance=body.balance,
    )
    r = created.requester
    return wire(
        {
            "id": format_id(r.id),
            "token": created.token,
            "balance": from_micros(r.balance_micros),
            "public_name": r.public_name,
            "company": r.company,
            "email": r.email,
            "created": r.created,
        },
        status_code=201,
    )


@router.get("/requesters/{requester_id}", response_model=RequesterView, summary="Get a requester")
def get_requester(requester_id: str, _: OperatorDep, session: SessionDep) -> WireJSONResponse:
    return wire(service.requester_view(service.find_requester_by_public_id(session, requester_id)))


@router.post(
    "/requesters/{requester_id}/deposits",
    status_code=201,
    response_model=DepositCreated,
    summary="Add money",
)
def create_deposit(requester_id: str, body: DepositCreate, _: OperatorDep, session: SessionDep) -> WireJSONResponse:
    requester = service.find_requester_by_public_id(session, requester_id)
    balance, entry_id = service.do_deposit(session, requester.id, body.amount, body.description)
    return wire(
        {
            "requester_id": format_id(requester.id),
            "amount": body.amount,
            "balance": from_micros(balance),
            "ledger_entry_id": format_id(entry_id),
        },
        status_code=201,
    )


@router.post(
    "/requesters/{requester_id}/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Issue another token",
)
def create_requester_token(requester_id: str, _: OperatorDep, session: SessionDep) -> WireJSONResponse:
    requester = service.find_requester_by_public_id(session, requester_id)
    return wire({"token": service.issue_token(session, requester_id=requester.id), "role": "REQUESTER"}, 201)


@router.post(
    "/tolokers/{toloker_id}/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Toloker token",
)
def create_toloker_token(toloker_id: str, _: OperatorDep, session: SessionDep) -> WireJSONResponse:
    return wire({"token": service.do_issue_toloker_token(session, toloker_id), "role": "TOLOKER"}, 201)
