"""`/api/admin/v1/requesters...` and Toloker tokens: the operator's account tools."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Query, Response

from crowdpost.accounts import passwords, service, toloker_web_sessions, views
from crowdpost.accounts.auth import OperatorDep
from crowdpost.accounts.schemas import (
    DepositCreate,
    DepositCreated,
    PasswordSet,
    RequesterCreate,
    RequesterCreated,
    RequesterView,
    TokenCreated,
    TokenRevoke,
    TokenRevoked,
)
from crowdpost.dependencies import SessionDep, SettingsDep
from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire

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
    return wire(views.created_requester_view(created), status_code=201)


@router.get("/requesters/{requester_id}", response_model=RequesterView, summary="Get a requester")
def get_requester(requester_id: str, _: OperatorDep, session: SessionDep) -> WireJSONResponse:
    return wire(views.requester_view(service.find_requester_by_public_id(session, requester_id)))


@router.post(
    "/requesters/{requester_id}/deposits",
    status_code=201,
    response_model=DepositCreated,
    summary="Add money",
)
def create_deposit(
    requester_id: str,
    body: DepositCreate,
    _: OperatorDep,
    session: SessionDep,
    operation_id: str | None = Query(
        None,
        max_length=64,
        description="Idempotency key (a UUID): a repeat with the same id credits nothing and gets "
        "the first answer; the same id with another amount is 409 OPERATION_ID_REUSED",
    ),
) -> WireJSONResponse:
    requester = service.find_requester_by_public_id(session, requester_id)
    answer = service.do_deposit_once(session, requester.id, body.amount, body.description, operation_id=operation_id)
    return wire(answer.body, status_code=201)


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
    "/requesters/{requester_id}/password",
    status_code=204,
    summary="Set a requester's password for page sign-in",
)
def set_requester_password(requester_id: str, body: PasswordSet, _: OperatorDep, session: SessionDep) -> Response:
    """argon2id, stored hashed. Every web session of the requester ends, and a sign-in lock
    on their e-mail is lifted. 400 when the password has fewer than 10 or more than 1,024
    characters."""
    requester = service.find_requester_by_public_id(session, requester_id)
    passwords.do_set_password(session, requester.id, body.password)
    return Response(status_code=204)


@router.post(
    "/tolokers/{toloker_id}/password",
    status_code=204,
    summary="Set a Toloker's password for page sign-in",
)
def set_toloker_password(toloker_id: str, body: PasswordSet, _: OperatorDep, session: SessionDep) -> Response:
    """argon2id, stored hashed; every web session of the Toloker ends. 404 for an unknown
    Toloker, 400 when the password has fewer than 10 or more than 1,024 characters."""
    toloker_web_sessions.do_set_password(session, toloker_id, body.password)
    return Response(status_code=204)


@router.post(
    "/tolokers/{toloker_id}/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Toloker token",
)
def create_toloker_token(toloker_id: str, _: OperatorDep, session: SessionDep) -> WireJSONResponse:
    return wire({"token": service.do_issue_toloker_token(session, toloker_id), "role": "TOLOKER"}, 201)


@router.post("/tokens/revoke", response_model=TokenRevoked, summary="Revoke a requester's or Toloker's token")
def revoke_token(body: TokenRevoke, _: OperatorDep, session: SessionDep, settings: SettingsDep) -> WireJSONResponse:
    """The token stops working at once, in every process (tokens are looked up on every
    request). Revoking it again is a no-op. The operator token comes from settings: rotate
    it by changing `CROWDPOST_ADMIN_TOKEN` and restarting."""
    if hmac.compare_digest(body.token.encode("utf-8", "surrogatepass"), settings.admin_token.encode()):
        raise ValidationFailed(
            {
                "token": field_error(
                    "INVALID_VALUE",
                    "this is the operator token, which comes from CROWDPOST_ADMIN_TOKEN: rotate it by "
                    "setting a new value and restarting every process",
                )
            }
        )
    return wire(views.revoked_token_view(service.do_revoke_token(session, body.token)))
