"""GET/PATCH /requester/notification-settings (extension): the address and e-mail switches."""

from __future__ import annotations

from fastapi import APIRouter

from crowdpost.accounts.auth import RequesterDep
from crowdpost.dependencies import SessionDep
from crowdpost.email import service
from crowdpost.email.schemas import RequesterSettingsPatch, RequesterSettingsView
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire

router = APIRouter(route_class=WireRoute, tags=["notification-settings"])


@router.get(
    "/requester/notification-settings",
    response_model=RequesterSettingsView,
    summary="Get notification settings (extension)",
)
def get_settings(caller: RequesterDep, session: SessionDep) -> WireJSONResponse:
    return wire(service.get_requester_settings(session, caller.requester_id))


@router.patch(
    "/requester/notification-settings",
    response_model=RequesterSettingsView,
    summary="Change notification settings (extension); a new address is confirmed by a mailed link",
)
def patch_settings(caller: RequesterDep, session: SessionDep, body: RequesterSettingsPatch) -> WireJSONResponse:
    return wire(service.do_patch_requester_settings(session, caller.requester_id, body))
