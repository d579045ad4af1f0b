"""GET/PATCH /notification-settings of the Toloker API: the Toloker's own e-mail switch."""

from __future__ import annotations

from fastapi import APIRouter

from crowdpost.accounts.auth import TolokerDep
from crowdpost.dependencies import SessionDep
from crowdpost.email import service
from crowdpost.email.schemas import TolokerSettingsPatch, TolokerSettingsView
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire

router = APIRouter(route_class=WireRoute, tags=["notification-settings"])


@router.get("/notification-settings", response_model=TolokerSettingsView, summary="Get e-mail settings")
def get_settings(caller: TolokerDep, session: SessionDep) -> WireJSONResponse:
    return wire(service.get_toloker_settings(session, caller.toloker_id))


@router.patch("/notification-settings", response_model=TolokerSettingsView, summary="Change e-mail settings")
def patch_settings(caller: TolokerDep, session: SessionDep, body: TolokerSettingsPatch) -> WireJSONResponse:
    return wire(service.do_patch_toloker_settings(session, caller.toloker_id, body))
