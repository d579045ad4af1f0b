"""`/api/toloker/v1/bonuses`: what a Toloker was paid, in their language."""

from __future__ import annotations

from fastapi import APIRouter

from crowdpost.accounts.auth import TolokerDep
from crowdpost.dependencies import SessionDep
from crowdpost.kit.list_query import PagingDep
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.rewards import repository
from crowdpost.rewards.schemas import TolokerBonusPage
from crowdpost.rewards.views import toloker_bonus_view

router = APIRouter(route_class=WireRoute, tags=["toloker: rewards"])


@router.get("/bonuses", response_model=TolokerBonusPage, summary="My bonuses (sort, id_*/created_* and paging)")
def my_bonuses(caller: TolokerDep, session: SessionDep, params: PagingDep) -> WireJSONResponse:
    rows, has_more = repository.list_toloker_bonuses(session, caller.toloker_id, params)
    languages = repository.toloker_languages(session, caller.toloker_id)
    names = repository.requester_names(session, {b.requester_id for b in rows})
    items = [toloker_bonus_view(b, languages, names.get(b.requester_id, {})) for b in rows]
    return wire({"items": items, "has_more": has_more})
