"""`/api/admin/v1/tolokers` and `/assignments`: bulk feeds from the task platform."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from crowdpost.accounts.auth import OperatorDep
from crowdpost.dependencies import SessionDep, SettingsDep
from crowdpost.kit.bulk import validate_items
from crowdpost.kit.routing import WireRoute, json_body
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.workforce import views
from crowdpost.workforce.schemas import AssignmentIn, AssignmentOut, TolokerIn, TolokerOut
from crowdpost.workforce.service import imports

router = APIRouter(route_class=WireRoute, tags=["admin: workforce"])

_TOLOKERS_BODY = json_body({"type": "array", "maxItems": 10000, "items": TolokerIn.model_json_schema(by_alias=False)})
_ASSIGNMENTS_BODY = json_body({"type": "array", "maxItems": 10000, "items": AssignmentIn.model_json_schema()})


@router.post(
    "/tolokers",
    status_code=201,
    response_model=list[TolokerOut],
    summary="Create or update Tolokers (up to 10,000, all or nothing)",
    openapi_extra=_TOLOKERS_BODY,
)
def import_tolokers(
    _: OperatorDep, session: SessionDep, settings: SettingsDep, body: Any = Body(...)
) -> WireJSONResponse:
    items = validate_items(TolokerIn, body, settings.bulk_max_items)
    return wire(imports.do_import_tolokers(session, items), status_code=201)


@router.post(
    "/assignments",
    status_code=201,
    response_model=list[AssignmentOut],
    summary="Record assignments (up to 10,000, all or nothing)",
    openapi_extra=_ASSIGNMENTS_BODY,
)
def import_assignments(
    _: OperatorDep, session: SessionDep, settings: SettingsDep, body: Any = Body(...)
) -> WireJSONResponse:
    items = validate_items(AssignmentIn, body, settings.bulk_max_items)
    created = imports.do_import_assignments(session, items)
    return wire([views.imported_assignment_view(row) for row in created], status_code=201)
