"""Every query of the messaging domain: folder listings, search, flags, counts, quotas.

All statements are set-based: a page loads its threads, messages and recipients in
one query each, and folder changes are single UPDATEs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, and_, case, exists, func, insert, literal, or_, select, text, update
from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.bulk import upsert
from crowdpost.kit.pagination import ListParams, paginate
from crowdpost.messaging import search
from crowdpost.messaging.schemas import FOLDER_COLUMNS, Folder, ThreadKind
from crowdpost.models import Message, MessageQuota, MessageThread, RequesterThread, TolokerLanguage, TolokerThread

State = RequesterThread | TolokerThread
StateModel = type[RequesterThread] | type[TolokerThread]
DIRECT_INTERLOCUTORS_MAX = 100


@dataclass(frozen=True)
class ThreadFilters:
    folder: Sequence[Folder] = ()
    folder_ne: Sequence[Folder] = ()
    user_id: str | None = None
    q: str | None = None
    interlocutor_role: str | None = None


def parse_folders(raw: str | None, field: str) -> list[Folder]:
    if not raw:
        return []
    folders = []
    for part in raw.split(","):
        name = part.strip()
        try:
            folders.append(Folder(name))
        except ValueError:
            allowed = [f.value for f in Folder]
            raise ValidationFailed(
                {field: field_error("UNKNOWN_ENUM_VALUE", f"unknown folder {name!r}; allowed: {allowed}", name)}
            ) from None
    return folders


def _flag(model: StateModel, folder: Folder) -> Any:
    return getattr(model, FOLDER_COLUMNS[folder])


def _apply_folders(stmt: Any, model: StateModel, filters: ThreadFilters) -> Any:
    # `folder=INBOX,UNREAD`: in every listed folder; `folder_ne=...`: in none of them.
    for folder in filters.folder:
        stmt = stmt.where(_flag(model, folder))
    for folder in filters.folder_ne:
        stmt = stmt.where(~_flag(model, folder))
    return stmt


def _paged(session: Session, stmt: Any, model: StateModel, params: ListParams) -> tuple[list[Any], bool]:
    sort_fields = {"id": model.thread_id, "created": model.created}
    return paginate(session, stmt, params, id_column=model.thread_id, sort_fields=sort_fields)


def requester_states_page(
    session: Session, requester_id: int, filters: ThreadFilters, params: ListParams
) -> tuple[list[RequesterThread], bool]:
    rt = RequesterThread
    stmt = _apply_folders(select(rt).where(rt.requester_id == requester_id), rt, filters)
    if filters.user_id is not None:
        recipient = exists().where(TolokerThread.user_id == filters.user_id, TolokerThread.thread_id == rt.thread_id)
        stmt = stmt.where(or_(rt.toloker_id == filters.user_id, and_(rt.toloker_id.is_(None), recipient)))
    if filters.interlocutor_role is not None:
        stmt = stmt.where(rt.interlocutor_role == filters.interlocutor_role)
    if filters.q is not None:
        stmt = stmt.where(rt.thread_id.in_(search.matching_thread_ids(session, filters.q)))
    return _paged(session, stmt, rt, params)


def toloker_states_page(
    session: Session, user_id: str, filters: ThreadFilters, params: ListParams
) -> tuple[list[TolokerThread], bool]:
    tt = TolokerThread
    stmt = _apply_folders(select(tt).where(tt.user_id == user_id), tt, filters)
    return _paged(session, stmt, tt, params)


def requester_state(session: Session, requester_id: int, thread_id: int) -> RequesterThread | None:
    return session.get(RequesterThread, (requester_id, thread_id))


def toloker_state(session: Session, user_id: str, thread_id: int) -> TolokerThread | None:
    return session.get(TolokerThread, (user_id, thread_id))


def threads_by_id(session: Session, thread_ids: Iterable[int]) -> dict[int, MessageThread]:
    ids = list(thread_ids)
    if not ids:
        return {}
    return {t.id: t for t in session.execute(select(MessageThread).where(MessageThread.id.in_(ids))).scalars()}


def messages_by_thread(session: Session, thread_ids: Iterable[int]) -> dict[int, list[Message]]:
    """Each thread's messages, newest first."""
    ids = list(thread_ids)
    result: dict[int, list[Message]] = defaultdict(list)
    if ids:
        stmt = select(Message).where(Message.thread_id.in_(ids)).order_by(Message.thread_id, Message.id.desc())
        for message in session.execute(stmt).scalars():
            result[message.thread_id].append(message)
    return result


def direct_recipients(session: Session, thread_ids: Iterable[int]) -> dict[int, list[str]]:
    """Who received each DIRECT send (at most 100 each, so a page stays small)."""
    ids = list(thread_ids)
    result: dict[int, list[str]] = defaultdict(list)
    if ids:
        stmt = select(TolokerThread.thread_id, TolokerThread.user_id).where(TolokerThread.thread_id.in_(ids))
        for thread_id, user_id in session.execute(stmt):
            if len(result[thread_id]) < DIRECT_INTERLOCUTORS_MAX:
                result[thread_id].append(user_id)
    return result


def toloker_languages(session: Session, user_id: str) -> list[str]:
    stmt = select(TolokerLanguage.language).where(TolokerLanguage.user_id == user_id).order_by(TolokerLanguage.language)
    return list(session.execute(stmt).scalars())


def recent_duplicate(session: Session, dedupe_key: str, since: datetime) -> int | None:
    """The thread an identical request from the same sender wrote to after `since`."""
    if session.get_bind().dialect.name == "postgresql":
        # Identical concurrent retries queue here, so the second sees the first's commit.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": dedupe_key})
    stmt = (
        select(Message.thread_id)
        .where(Message.dedupe_key == dedupe_key, Message.created >= since)
        .order_by(Message.id)
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def set_flags(session: Session, model: StateModel, owner: Any, thread_id: int | None, values: dict[str, bool]) -> int:
    """UPDATE one participant's thread row (or all their rows when thread_id is None)."""
    owner_column = model.requester_id if model is RequesterThread else model.user_id  # type: ignore[union-attr]
    stmt = update(model).where(owner_column == owner)
    if thread_id is not None:
        stmt = stmt.where(model.thread_id == thread_id)
    return rows_written(session, stmt.values(**values))


def mark_all_read(session: Session, model: StateModel, owner: Any, folder: Folder | None) -> int:
    owner_column = model.requester_id if model is RequesterThread else model.user_id  # type: ignore[union-attr]
    stmt = update(model).where(owner_column == owner, model.unread)
    if folder is not None:
        stmt = stmt.where(_flag(model, folder))
    return rows_written(session, stmt.values(unread=False))


def notify_recipients(session: Session, thread_id: int, user_id: str | None = None) -> None:
    """A new message in the thread: it is unread for its Tolokers (all, or one)."""
    stmt = update(TolokerThread).where(TolokerThread.thread_id == thread_id)
    if user_id is not None:
        stmt = stmt.where(TolokerThread.user_id == user_id)
    rows_written(session, stmt.values(inbox=True, unread=True))


def folder_counts(session: Session, model: StateModel, owner: Any) -> dict[str, Any]:
    """Total and unread per folder, in one scan of the owner's rows."""
    owner_column = model.requester_id if model is RequesterThread else model.user_id  # type: ignore[union-attr]
    columns = [func.count(), func.sum(case((model.unread, 1), else_=0))]
    for folder in Folder:
        flag = _flag(model, folder)
        columns.append(func.sum(case((flag, 1), else_=0)))
        columns.append(func.sum(case((and_(flag, model.unread), 1), else_=0)))
    row = session.execute(select(*columns).where(owner_column == owner)).one()
    values = [int(v or 0) for v in row]
    folders = {
        folder.value: {"total": values[2 + 2 * i], "unread": values[3 + 2 * i]} for i, folder in enumerate(Folder)
    }
    return {"total": values[0], "unread": values[1], "folders": folders}


def fan_out(session: Session, audience: Any, thread_id: int, requester_id: int, now: datetime) -> int:
    """INSERT one Toloker row per audience member (ids are distinct), in the database: memory stays flat."""
    members = audience.subquery()
    user_id = next(iter(members.c))
    rows = select(
        user_id,
        literal(thread_id),
        literal(requester_id),
        literal(now),
        literal(True, Boolean),
        literal(False, Boolean),
        literal(False, Boolean),
        literal(False, Boolean),
        literal(True, Boolean),
    )
    columns = ["user_id", "thread_id", "requester_id", "created", "inbox", "outbox", "notification", "important"]
    stmt = insert(TolokerThread).from_select([*columns, "unread"], rows)
    return rows_written(session, stmt)


def rows_written(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> int:
    """How many rows a Core INSERT ... SELECT or UPDATE wrote (SQLAlchemy drops INSERT rowcounts unless asked)."""
    return int(session.connection().execute(stmt.execution_options(preserve_rowcount=True), params).rowcount)


def upsert_requester_state(session: Session, row: dict[str, Any], flags: dict[str, bool]) -> None:
    stmt = upsert(session, RequesterThread)
    session.execute(
        stmt.values(**row, **flags).on_conflict_do_update(index_elements=["requester_id", "thread_id"], set_=flags)
    )


def upsert_toloker_state(session: Session, row: dict[str, Any], flags: dict[str, bool]) -> None:
    stmt = upsert(session, TolokerThread)
    session.execute(
        stmt.values(**row, **flags).on_conflict_do_update(index_elements=["user_id", "thread_id"], set_=flags)
    )


def conversation_id(session: Session, parent: MessageThread, user_id: str, now: datetime) -> int:
    """The thread holding this Toloker's replies to a composed thread, made on first reply."""
    stmt = upsert(session, MessageThread)
    session.execute(
        stmt.values(
            requester_id=parent.requester_id,
            kind=ThreadKind.CONVERSATION.value,
            topic=parent.topic,
            answerable=True,
            parent_id=parent.id,
            toloker_id=user_id,
            delivered_count=1,
            banned_count=0,
            unknown_count=0,
            pool_id=parent.pool_id,
            project_id=parent.project_id,
            assignment_id=parent.assignment_id,
            created=now,
        ).on_conflict_do_nothing(index_elements=["parent_id", "toloker_id"])
    )
    found = select(MessageThread.id).where(MessageThread.parent_id == parent.id, MessageThread.toloker_id == user_id)
    return int(session.execute(found).scalar_one())


def consume_quota(session: Session, requester_id: int, day: date, kind: str, limit: int) -> bool:
    """Count one send; False (and nothing counted) when the day's limit is reached."""
    stmt = upsert(session, MessageQuota)
    table = MessageQuota.__table__
    result = session.execute(
        stmt.values(requester_id=requester_id, day=day, kind=kind, used=1)
        .on_conflict_do_update(
            index_elements=["requester_id", "day", "kind"],
            set_={"used": table.c.used + 1},
            where=table.c.used < limit,
        )
        .returning(table.c.used)
    )
    used = result.scalar_one_or_none()
    return used is not None and used <= limit
