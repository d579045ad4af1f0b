"""`/api/toloker/v1/...`: a Toloker's threads (in their language), replies and appeals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from crowdpost.accounts.auth import TolokerDep
from crowdpost.dependencies import SessionDep
from crowdpost.kit.list_query import PagingDep
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.messaging import folders, toloker_service
from crowdpost.messaging.endpoints.filters import folder_filters
from crowdpost.messaging.repository import Participant, ThreadFilters
from crowdpost.messaging.schemas import (
    AppealForm,
    FoldersForm,
    MarkAllReadForm,
    MessageThreadPage,
    MessageThreadView,
    ReplyForm,
    ThreadCounts,
)

router = APIRouter(route_class=WireRoute, tags=["toloker: messages"])

FiltersDep = Annotated[ThreadFilters, Depends(folder_filters)]


@router.get("/message-threads", response_model=MessageThreadPage, summary="My message threads")
def find_threads(caller: TolokerDep, session: SessionDep, params: PagingDep, filters: FiltersDep) -> WireJSONResponse:
    return wire(toloker_service.list_toloker_threads(session, caller.toloker_id, filters, params))


@router.get("/message-threads/counts", response_model=ThreadCounts, summary="Threads and unread per folder")
def counts(caller: TolokerDep, session: SessionDep) -> WireJSONResponse:
    return wire(folders.folder_counts(session, Participant.toloker(caller.toloker_id)))


@router.post("/message-threads/mark-all-read", response_model=dict[str, int], summary="Mark all threads read")
def mark_all_read(
    caller: TolokerDep, session: SessionDep, form: MarkAllReadForm | None = Body(None)
) -> WireJSONResponse:
    who = Participant.toloker(caller.toloker_id)
    return wire(folders.do_mark_all_read(session, who, form.folder if form else None))


@router.get("/message-threads/{thread_id}", response_model=MessageThreadView, summary="One of my threads")
def get_thread(thread_id: str, caller: TolokerDep, session: SessionDep) -> WireJSONResponse:
    return wire(toloker_service.get_toloker_thread(session, caller.toloker_id, thread_id))


@router.post(
    "/message-threads/{thread_id}/reply",
    status_code=201,
    response_model=MessageThreadView,
    summary="Reply (lands in my own thread with the requester)",
)
def reply(thread_id: str, form: ReplyForm, caller: TolokerDep, session: SessionDep) -> WireJSONResponse:
    return wire(toloker_service.do_toloker_reply(session, caller.toloker_id, thread_id, form.text), status_code=201)


def _folders(session: Any, caller: Any, thread_id: str, form: FoldersForm, add: bool) -> WireJSONResponse:
    view = folders.do_change_folders(session, Participant.toloker(caller.toloker_id), thread_id, form.folders, add=add)
    return wire(view, status_code=201)


@router.post(
    "/message-threads/{thread_id}/add-to-folders",
    status_code=201,
    response_model=MessageThreadView,
    summary="Mark unread or important",
)
def add_to_folders(thread_id: str, form: FoldersForm, caller: TolokerDep, session: SessionDep) -> WireJSONResponse:
    return _folders(session, caller, thread_id, form, True)


@router.post(
    "/message-threads/{thread_id}/remove-from-folders",
    status_code=201,
    response_model=MessageThreadView,
    summary="Mark read or not important",
)
def remove_from_folders(thread_id: str, form: FoldersForm, caller: TolokerDep, session: SessionDep) -> WireJSONResponse:
    return _folders(session, caller, thread_id, form, False)


@router.post(
    "/assignments/{assignment_id}/appeal",
    status_code=201,
    response_model=MessageThreadView,
    summary="Appeal a rejected assignment (within 7 days of the rejection)",
)
def appeal(assignment_id: str, form: AppealForm, caller: TolokerDep, session: SessionDep) -> WireJSONResponse:
    return wire(toloker_service.do_appeal(session, caller.toloker_id, assignment_id, form.text), status_code=201)
