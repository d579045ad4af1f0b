"""`/api/v1/requester`: the calling requester's account (Toloka RequesterViewV1)."""

from __future__ import annotations

from fastapi import APIRouter

from crowdpost.accounts import service, views
from crowdpost.accounts.auth import RequesterDep
from crowdpost.accounts.schemas import RequesterView
from crowdpost.dependencies import SessionDep
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire

router = APIRouter(route_class=WireRoute, tags=["requester"])


@router.get("/requester", response_model=RequesterView, summary="Get account balance")
def get_requester(caller: RequesterDep, session: SessionDep) -> WireJSONResponse:
    return wire(views.requester_view(service.get_requester(session, caller.requester_id)))
