"""`/api/v1/message-threads...`: Toloka's message-thread API plus crowdpost's extensions.

Extensions: `user_id`, `q`, `interlocutor_role` on the list; `GET /{id}`; `GET /{id}/recipients`;
`POST /mark-all-read`; `GET /counts`; `?dry_run=true`, `?strict=true` and `?ignore_cap=true` on
compose; `?strict=true` on reply; `policy_warnings`, `delivery`, `outcomes`, `appeal_deadline` in
answers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from crowdpost.accounts.auth import RequesterDep
from crowdpost.dependencies import SessionDep, SettingsDep, query_flag, read_only
from crowdpost.kit.list_query import PagingDep
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.messaging import folders, service
from crowdpost.messaging.endpoints.filters import FolderNeParam, FolderParam, folder_filters
from crowdpost.messaging.repository import Participant, RecipientFilters, ThreadFilters
from crowdpost.messaging.schemas import (
    ComposeForm,
    DryRunView,
    FoldersForm,
    InterlocutorRole,
    MarkAllReadForm,
    MessageThreadPage,
    MessageThreadView,
    Outcome,
    RecipientPage,
    ReplyForm,
    ThreadCounts,
)

router = APIRouter(route_class=WireRoute, tags=["message-thread"])


def thread_filters(
    folder: FolderParam = None,
    folder_ne: FolderNeParam = None,
    user_id: str | None = Query(None, max_length=64, description="Threads with this Toloker (extension)"),
    q: str | None = Query(None, description='Words or a "quoted phrase" in topic or text (extension)'),
    interlocutor_role: InterlocutorRole | None = Query(None, description="USER, ADMINISTRATOR or SYSTEM (extension)"),
) -> ThreadFilters:
    return replace(
        folder_filters(folder, folder_ne),
        user_id=user_id,
        q=q,
        interlocutor_role=interlocutor_role.value if interlocutor_role else None,
    )


FiltersDep = Annotated[ThreadFilters, Depends(thread_filters)]


@router.get("/message-threads", response_model=MessageThreadPage, summary="Get list of message threads")
def find_threads(caller: RequesterDep, session: SessionDep, params: PagingDep, filters: FiltersDep) -> WireJSONResponse:
    return wire(service.list_requester_threads(session, caller.requester_id, filters, params))


@router.get("/message-threads/counts", response_model=ThreadCounts, summary="Threads and unread per folder")
def counts(caller: RequesterDep, session: SessionDep) -> WireJSONResponse:
    return wire(folders.folder_counts(session, Participant.requester(caller.requester_id)))


@router.post(
    "/message-threads/compose",
    status_code=201,
    response_model=MessageThreadView | DryRunView,
    summary="Send message (dry_run=true: count recipients, send nothing)",
)
@read_only(when=query_flag("dry_run"))
def compose(
    form: ComposeForm,
    caller: RequesterDep,
    session: SessionDep,
    settings: SettingsDep,
    dry_run: bool = Query(False),
    strict: bool = Query(False, description="Policy warnings become a 400"),
    ignore_cap: bool = Query(
        False, description="FILTER only: send to Tolokers over the weekly bulk cap too (extension; a 400 for ALL)"
    ),
) -> WireJSONResponse:
    if dry_run:
        return wire(service.do_dry_run(session, settings, caller.requester_id, form, ignore_cap=ignore_cap))
    view = service.do_compose(session, settings, caller.requester_id, form, strict=strict, ignore_cap=ignore_cap)
    return wire(view, status_code=201)


@router.post("/message-threads/mark-all-read", response_model=dict[str, int], summary="Mark all threads read")
def mark_all_read(
    caller: RequesterDep, session: SessionDep, form: MarkAllReadForm | None = Body(None)
) -> WireJSONResponse:
    folder = form.folder if form else None
    return wire(folders.do_mark_all_read(session, Participant.requester(caller.requester_id), folder))


@router.get("/message-threads/{thread_id}", response_model=MessageThreadView, summary="Get a message thread")
def get_thread(thread_id: str, caller: RequesterDep, session: SessionDep) -> WireJSONResponse:
    return wire(service.get_requester_thread(session, caller.requester_id, thread_id))


def recipient_filters(
    outcome: Outcome | None = Query(None, description="Only this outcome"),
    read: bool | None = Query(None, description="Only delivered Tolokers who read it (true) or did not (false)"),
    replied: bool | None = Query(None, description="Only Tolokers who replied (true) or did not (false)"),
) -> RecipientFilters:
    return RecipientFilters(outcome=outcome, read=read, replied=replied)


@router.get(
    "/message-threads/{thread_id}/recipients",
    response_model=RecipientPage,
    summary="What became of each addressed Toloker of a send (extension)",
)
def recipients(
    thread_id: str,
    caller: RequesterDep,
    session: SessionDep,
    params: PagingDep,
    filters: Annotated[RecipientFilters, Depends(recipient_filters)],
) -> WireJSONResponse:
    return wire(service.list_recipients(session, caller.requester_id, thread_id, filters, params))


@router.post(
    "/message-threads/{thread_id}/reply",
    status_code=201,
    response_model=MessageThreadView,
    summary="Reply to message thread",
)
def reply(
    thread_id: str,
    form: ReplyForm,
    caller: RequesterDep,
    session: SessionDep,
    settings: SettingsDep,
    strict: bool = Query(False),
) -> WireJSONResponse:
    view = service.do_requester_reply(session, settings, caller.requester_id, thread_id, form.text, strict=strict)
    return wire(view, status_code=201)


def _folders(session: Any, caller: Any, thread_id: str, form: FoldersForm, add: bool) -> WireJSONResponse:
    who = Participant.requester(caller.requester_id)
    view = folders.do_change_folders(session, who, thread_id, form.folders, add=add)
    return wire(view, status_code=201)


@router.post(
    "/message-threads/{thread_id}/add-to-folders",
    status_code=201,
    response_model=MessageThreadView,
    summary="Add message thread to folders (IMPORTANT, UNREAD)",
)
def add_to_folders(thread_id: str, form: FoldersForm, caller: RequesterDep, session: SessionDep) -> WireJSONResponse:
    return _folders(session, caller, thread_id, form, True)


@router.post(
    "/message-threads/{thread_id}/remove-from-folders",
    status_code=201,
    response_model=MessageThreadView,
    summary="Remove message thread from folders (IMPORTANT, UNREAD)",
)
def remove_from_folders(
    thread_id: str, form: FoldersForm, caller: RequesterDep, session: SessionDep
) -> WireJSONResponse:
    return _folders(session, caller, thread_id, form, False)
