"""Messages nobody answers: the operator's platform messages and automatic notifications.

do_platform_message     ADMINISTRATOR -> requesters' INBOX; "all requesters" is one fan-out
do_system_thread        SYSTEM -> one requester's AUTOMATIC_NOTIFICATION folder
do_note_on_appeal       SYSTEM note on the Toloker's appeal thread (assignment accepted)
do_bonus_threads        a paid bonus's title and message -> its Toloker, set-based
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.events import MessagesReceived, publish
from crowdpost.kit.id_order import Claim, keep_id_order
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import policy, repository
from crowdpost.messaging.repository import Participant
from crowdpost.messaging.schemas import InterlocutorRole, PlatformMessageForm, ThreadKind
from crowdpost.messaging.service import NewMessage, check_texts, write_message
from crowdpost.messaging.views import ADMINISTRATOR_ID, SYSTEM_ID
from crowdpost.models import MessageThread

# Bonus ids per statement when they are not one contiguous run (SQLite: 32,766 parameters).
_ID_CHUNK = 5000


def _raise_unknown(ids: list[str]) -> list[int]:
    raise ValidationFailed({"requester_ids": field_error("ENTITY_DOES_NOT_EXIST", "no such requesters", *ids)})


def do_platform_message(session: Session, form: PlatformMessageForm) -> dict[str, Any]:
    """One thread and one message; one INSERT ... SELECT of requester rows."""
    if form.all_requesters == (form.requester_ids is not None):
        raise ValidationFailed(
            {"requester_ids": field_error("VALUE_REQUIRED", "give requester_ids or all_requesters=true, not both")}
        )
    check_texts(form.topic, form.text)
    wanted: set[int] | None = None
    if form.requester_ids is not None:
        numbers = [parse_id(p) for p in form.requester_ids]
        wanted = repository.known_requester_ids(session, (n for n in numbers if n is not None))
        unknown = [p for p, n in zip(form.requester_ids, numbers, strict=True) if n not in wanted]
        if unknown:
            _raise_unknown(unknown)
    now = utcnow()
    topic = policy.sanitize_lang_map(form.topic, markup=False)
    keep_id_order(session, Claim("requester_threads", wanted))  # requesters page by thread id; None: all of them
    thread = repository.add_thread(
        session, requester_id=None, kind=ThreadKind.PLATFORM.value, topic=topic, answerable=False
    )
    role = InterlocutorRole.ADMINISTRATOR.value
    delivered = repository.deliver_to_requesters(session, thread.id, wanted, role, now)
    thread.delivered_count = delivered
    message_id = write_message(
        session,
        NewMessage(thread.id, None, InterlocutorRole.ADMINISTRATOR.value, ADMINISTRATOR_ID, form.text, topic),
    )
    publish(session, MessagesReceived("REQUESTER", message_id, message_id))
    session.flush()
    return {"id": format_id(thread.id), "recipients_count": delivered, "created": thread.created}


def do_system_thread(
    session: Session,
    requester_id: int,
    topic: dict[str, str],
    text: dict[str, str],
    *,
    pool_id: int | None = None,
    project_id: int | None = None,
) -> int:
    """An automatic notification to one requester, in the caller's transaction."""
    keep_id_order(session, Claim("requester_threads", [requester_id]))  # the requester pages by thread id
    thread = repository.add_thread(
        session,
        requester_id=requester_id,
        kind=ThreadKind.SYSTEM.value,
        topic=topic,
        answerable=False,
        pool_id=pool_id,
        project_id=project_id,
        delivered_count=1,
    )
    write_message(session, NewMessage(thread.id, requester_id, InterlocutorRole.SYSTEM.value, SYSTEM_ID, text, topic))
    repository.add_state(
        session,
        Participant.requester(requester_id),
        thread.id,
        thread.created,
        interlocutor_role=InterlocutorRole.SYSTEM.value,
        **repository.flags("notification", "unread"),
    )
    session.flush()
    return thread.id


def do_note_on_appeal(session: Session, requester_id: int, assignment_id: int, text: dict[str, str]) -> int | None:
    """A SYSTEM message on the Toloker's appeal thread for this (requester's) assignment, if there is one."""
    thread = repository.appeal_thread(session, requester_id, assignment_id)
    if thread is None:
        return None
    write_message(
        session,
        NewMessage(thread.id, thread.requester_id, InterlocutorRole.SYSTEM.value, SYSTEM_ID, text, thread.topic),
    )
    repository.notify_recipients(session, thread.id)
    return thread.id


def bonus_id_groups(bonus_ids: tuple[int, ...]) -> list[tuple[int, int] | list[int]]:
    """A contiguous id run as one (first, last) range, else chunks small enough for SQLite's parameter limit."""
    if not bonus_ids:
        return []
    low, high = min(bonus_ids), max(bonus_ids)
    if high - low + 1 == len(set(bonus_ids)):
        return [(low, high)]
    ordered = sorted(set(bonus_ids))
    return [ordered[i : i + _ID_CHUNK] for i in range(0, len(ordered), _ID_CHUNK)]


def do_bonus_threads(session: Session, requester_id: int, bonus_ids: tuple[int, ...]) -> int:
    """One thread per paid bonus that has a message, to its Toloker: three INSERT ... SELECTs per id group.

    Texts keep every language; the Toloker API shows each Toloker theirs when read.
    """
    made = 0
    for group in bonus_id_groups(bonus_ids):
        made += _bonus_threads(session, requester_id, group)
    return made


def _bonus_threads(session: Session, requester_id: int, group: tuple[int, int] | list[int]) -> int:
    # Every row is this requester's bonus: their public id is the sender. Their Tolokers page by
    # thread id and a batch reaches any number of them: the whole table's lock, until commit
    # (bonus payments are serialized by the bonus id lock already, so it costs them nothing).
    # The requester's own lock too, first: a SYSTEM thread the same transaction may write next
    # (a low balance) then finds it held, and the locks keep the order every writer takes them in.
    keep_id_order(session, Claim("requester_threads", [requester_id]), Claim("toloker_threads"))
    return repository.bonus_threads(session, requester_id, group, format_id(requester_id), utcnow())


def platform_sent_page(session: Session, before_id: int | None, limit: int) -> tuple[list[MessageThread], int | None]:
    """What the operator sent (the /admin News list), newest first, and the next page's `before_id`."""
    return repository.platform_threads_page(session, before_id, limit)


def platform_audience(session: Session, requester_ids: list[str] | None) -> int:
    """How many requesters a platform message would reach (the preview); unknown ids raise as the send does."""
    if requester_ids is None:
        return repository.requester_count(session)
    numbers = [parse_id(p) for p in requester_ids]
    wanted = repository.known_requester_ids(session, (n for n in numbers if n is not None))
    unknown = [p for p, n in zip(requester_ids, numbers, strict=True) if n not in wanted]
    if unknown:
        _raise_unknown(unknown)
    return len(wanted)
