"""A participant's folders, for requesters and Tolokers alike. No HTTP, no commit.

    thread_state / get_thread        one of the participant's threads (404 if not theirs)
    do_change_folders                add to or remove from IMPORTANT and UNREAD
    do_mark_all_read, folder_counts  every thread of theirs (in one folder)
    requester_unread_counts          the Messages page's unread numbers, at a bounded cost

A `Participant` names whose thread rows these are: `Participant.requester(id)` or
`Participant.toloker(user_id)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.errors import DoesNotExist, ValidationFailed, field_error
from crowdpost.kit.ids import parse_id
from crowdpost.messaging import repository, views
from crowdpost.messaging.repository import Participant, State
from crowdpost.messaging.schemas import FOLDER_COLUMNS, USER_FOLDERS, Folder, InterlocutorRole


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


def do_mark_all_read(
    session: Session, who: Participant, folder: Folder | None, *, interlocutor_role: InterlocutorRole | None = None
) -> dict[str, Any]:
    """Every unread thread of theirs (in `folder`; with a requester's `interlocutor_role`: only
    threads with that other side, the Messages page's Users and Administrator lists)."""
    role = interlocutor_role.value if interlocutor_role is not None else None
    return {"marked_read": repository.mark_all_read(session, who, folder, role)}


def folder_counts(session: Session, who: Participant) -> dict[str, Any]:
    return repository.folder_counts(session, who)


# How many of a requester's newest unread threads the page's counts read: past this the
# numbers are lower bounds ("999+"), so a page costs the same with 10 or 1,000,000 threads.
UNREAD_WINDOW = 999


@dataclass(frozen=True)
class UnreadCounts:
    """Unread threads per folder (`Folder` values) and unread INBOX threads per interlocutor
    role (`InterlocutorRole` values). `complete` is False when the requester has more than
    `window` unread threads: then each number counts only the newest `window` of them."""

    folders: dict[str, int]
    inbox_roles: dict[str, int]
    complete: bool
    window: int


def requester_unread_counts(session: Session, requester_id: int, window: int = UNREAD_WINDOW) -> UnreadCounts:
    """The unread numbers beside the Messages page's folders. `folder_counts` (the API's
    `/counts`) scans every row of the requester for totals the page does not show; this reads
    at most `window` + 1 rows. Below the window both agree on every unread number."""
    seen = repository.requester_unread_window(session, requester_id, window + 1)
    folders = {folder.value: seen[folder.value] for folder in Folder if folder is not Folder.UNREAD}
    complete = seen["seen"] <= window
    folders[Folder.UNREAD.value] = seen["seen"] if complete else window
    if not complete:
        folders = {name: min(count, window) for name, count in folders.items()}
    roles = {key.split(":", 1)[1]: min(value, window) for key, value in seen.items() if key.startswith("INBOX:")}
    return UnreadCounts(folders=folders, inbox_roles=roles, complete=complete, window=window)
