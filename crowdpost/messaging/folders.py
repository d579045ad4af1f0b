"""A participant's folders, for requesters and Tolokers alike. No HTTP, no commit.

    thread_state / get_thread        one of the participant's threads (404 if not theirs)
    do_change_folders                add to or remove from IMPORTANT and UNREAD
    do_mark_all_read, folder_counts  every thread of theirs (in one folder)

A `Participant` names whose thread rows these are: `Participant.requester(id)` or
`Participant.toloker(user_id)`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crowdpost.errors import DoesNotExist, ValidationFailed, field_error
from crowdpost.kit.ids import parse_id
from crowdpost.messaging import repository, views
from crowdpost.messaging.repository import Participant, State
from crowdpost.messaging.schemas import FOLDER_COLUMNS, USER_FOLDERS, Folder


def thread_state(session: Session, who: Participant, public_id: str) -> State:
    thread_id = parse_id(public_id)
    state = repository.thread_state(session, who, thread_id) if thread_id is not None else None
    if state is None:
        raise DoesNotExist(f"Message thread {public_id} does not exist")
    return state


def get_thread(session: Session, who: Participant, public_id: str) -> dict[str, Any]:
    return views.participant_views(session, who, [thread_state(session, who, public_id)])[0]


def check_user_folders(folders: list[Folder]) -> dict[str, bool]:
    wrong = [f.value for f in folders if f not in USER_FOLDERS]
    if wrong:
        raise ValidationFailed(
            {"folders": field_error("VALUE_NOT_ALLOWED", "only IMPORTANT and UNREAD can be changed", *wrong)}
        )
    return {FOLDER_COLUMNS[f]: True for f in folders}


def do_change_folders(
    session: Session, who: Participant, public_id: str, folders: list[Folder], *, add: bool
) -> dict[str, Any]:
    columns = check_user_folders(folders)
    state = thread_state(session, who, public_id)
    repository.set_flags(session, who, state.thread_id, dict.fromkeys(columns, add))
    session.expire_all()
    return get_thread(session, who, public_id)


def do_mark_all_read(session: Session, who: Participant, folder: Folder | None) -> dict[str, Any]:
    return {"marked_read": repository.mark_all_read(session, who, folder)}


def folder_counts(session: Session, who: Participant) -> dict[str, Any]:
    return repository.folder_counts(session, who)
