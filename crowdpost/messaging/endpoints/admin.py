"""`POST /api/admin/v1/messages`: the operator's platform messages and news to requesters."""

from __future__ import annotations

from fastapi import APIRouter

from crowdpost.accounts.auth import OperatorDep
from crowdpost.dependencies import SessionDep
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.messaging import platform
from crowdpost.messaging.schemas import PlatformMessageForm

router = APIRouter(route_class=WireRoute, tags=["admin: messages"])


@router.post("/messages", status_code=201, summary="Platform message to requesters (or all of them)")
def post_platform_message(form: PlatformMessageForm, _: OperatorDep, session: SessionDep) -> WireJSONResponse:
    return wire(platform.do_platform_message(session, form), status_code=201)
