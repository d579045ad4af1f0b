"""All SQL of e-mail: the settings (switches and addresses of requesters and Tolokers), the
signed links' key, the outbox rows an event writes and what rendering a batch of rows reads."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, cast, literal, null, select, tuple_, update
from sqlalchemy.orm import Session

from crowdpost.kit.bulk import upsert
from crowdpost.models import (
    Message,
    MessageThread,
    Operation,
    OutboxItem,
    Requester,
    RequesterThread,
    ServerSecret,
    Toloker,
    TolokerLanguage,
    TolokerThread,
)

Rows = Sequence[Row[*tuple[Any, ...]]]

# The switch column of each event, per audience.
REQUESTER_SWITCHES = {"NEW_MESSAGE": "email_new_message", "OPERATION_FINISHED": "email_operation_finished"}
TOLOKER_SWITCHES = {"NEW_MESSAGE": "email_new_message"}


def requester_settings(session: Session, requester_id: int, *, lock: bool = False) -> Any:
    stmt = select(
        Requester.email, Requester.email_verified, Requester.email_new_message, Requester.email_operation_finished
    ).where(Requester.id == requester_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).one_or_none()


def update_requester(session: Session, requester_id: int, values: dict[str, Any]) -> None:
    if values:
        session.execute(update(Requester).where(Requester.id == requester_id).values(**values))


def confirm_address(session: Session, requester_id: int, email: str) -> bool:
    """Marks the address verified if it is still the requester's; whether it was."""
    done = session.execute(
        update(Requester)
        .where(Requester.id == requester_id, Requester.email == email)
        .values(email_verified=True)
        .returning(Requester.id)
    ).first()
    return done is not None


def toloker_settings(session: Session, toloker_id: str) -> Any:
    return session.execute(
        select(Toloker.email, Toloker.email_new_message).where(Toloker.id == toloker_id)
    ).one_or_none()


def update_toloker(session: Session, toloker_id: str, values: dict[str, Any]) -> bool:
    done = session.execute(
        update(Toloker).where(Toloker.id == toloker_id).values(**values).returning(Toloker.id)
    ).first()
    return done is not None


def update_requester_switch(session: Session, requester_id: int, column: str) -> bool:
    done = session.execute(
        update(Requester).where(Requester.id == requester_id).values({column: False}).returning(Requester.id)
    ).first()
    return done is not None


# --- The signed links' key (links.py) ---


def server_secret(session: Session, name: str) -> bytes | None:
    found = session.execute(select(ServerSecret.value).where(ServerSecret.name == name)).scalar()
    return None if found is None else bytes(found)


def create_server_secret(session: Session, name: str, value: bytes, created: datetime) -> bytes:
    """Inserts the secret unless a row of that name exists (a concurrent first creation keeps
    whichever row landed first); the stored value either way."""
    stmt = upsert(session, ServerSecret).values(name=name, value=value, created=created)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    return bytes(session.execute(select(ServerSecret.value).where(ServerSecret.name == name)).scalar_one())


# --- Outbox rows written with their cause (subscribers.py), handed to `enqueue_select` ---

EMAIL = "email"
NEW_MESSAGE = "NEW_MESSAGE"
OPERATION_FINISHED = "OPERATION_FINISHED"
# The columns the selects below yield, in that order.
OUTBOX_COLUMNS = ("channel", "kind", "requester_id", "user_id", "ref_id", "ordering_key", "payload")


def _none(column: Any) -> Any:
    # A NULL typed as its outbox column: PostgreSQL will not put an untyped one into bigint/jsonb.
    return cast(null(), column.type)


def _constants(kind: str) -> tuple[Any, Any]:
    return literal(EMAIL).label("channel"), literal(kind).label("kind")


def new_message_rows(side: str, first_message_id: int, last_message_id: int) -> Select[Any]:
    """The recipients on `side` of messages [first..last] who get them by e-mail, as outbox columns."""
    in_range = Message.id.between(first_message_id, last_message_id)
    if side == "REQUESTER":
        on = Requester.id == RequesterThread.requester_id
        rows = _recipient_rows(RequesterThread, _none(OutboxItem.user_id), Requester, on)
        return rows.where(
            in_range,
            Message.sender_role != "REQUESTER",  # never the requester's own message
            Requester.email.is_not(None),
            Requester.email_verified.is_(True),
            Requester.email_new_message.is_(True),
        )
    rows = _recipient_rows(TolokerThread, TolokerThread.user_id, Toloker, Toloker.id == TolokerThread.user_id)
    return rows.where(
        in_range,
        Message.sender_role != "USER",  # never the Toloker's own message
        Toloker.email.is_not(None),
        Toloker.email_new_message.is_(True),
    )


def _recipient_rows(
    state: type[RequesterThread] | type[TolokerThread], user_id: Any, person: type[Requester] | type[Toloker], on: Any
) -> Select[Any]:
    """A message's outbox rows for one side's participants (`state`: their thread rows, joined
    with `person` `on` their id), before the side's conditions."""
    return (
        select(
            *_constants(NEW_MESSAGE),
            state.requester_id.label("requester_id"),
            user_id.label("user_id"),
            Message.id.label("ref_id"),
            _none(OutboxItem.ordering_key).label("ordering_key"),
            _none(OutboxItem.payload).label("payload"),
        )
        .join(state, state.thread_id == Message.thread_id)
        .join(person, on)
    )


def operation_finished_rows(requester_id: int, payload: dict[str, Any]) -> Select[Any]:
    """The requester's OPERATION_FINISHED row, if its address is verified and that switch is on."""
    return select(
        *_constants(OPERATION_FINISHED),
        Requester.id.label("requester_id"),
        _none(OutboxItem.user_id).label("user_id"),
        _none(OutboxItem.ref_id).label("ref_id"),
        _none(OutboxItem.ordering_key).label("ordering_key"),
        literal(payload, OutboxItem.payload.type).label("payload"),
    ).where(
        Requester.id == requester_id,
        Requester.email.is_not(None),
        Requester.email_verified.is_(True),
        Requester.email_operation_finished.is_(True),
    )


# --- What rendering a batch reads (render_reads.py): IN queries, each keyed by its rows' ids ---


def messages_to_render(session: Session, ids: Collection[int]) -> Rows:
    """(id, thread_id, thread kind, thread requester_id, topic, text, sender_role, sender_id, created)."""
    stmt = (
        select(
            Message.id,
            Message.thread_id,
            MessageThread.kind,
            MessageThread.requester_id,
            MessageThread.topic,
            Message.text,
            Message.sender_role,
            Message.sender_id,
            Message.created,
        )
        .join(MessageThread, MessageThread.id == Message.thread_id)
        .where(Message.id.in_(ids))
    )
    return session.execute(stmt).all()


def requesters_to_render(session: Session, ids: Collection[int]) -> Rows:
    """(id, email, verified, new_message switch, operation_finished switch, public_name)."""
    stmt = select(
        Requester.id,
        Requester.email,
        Requester.email_verified,
        Requester.email_new_message,
        Requester.email_operation_finished,
        Requester.public_name,
    ).where(Requester.id.in_(ids))
    return session.execute(stmt).all()


def toloker_languages(session: Session, ids: Collection[str]) -> Rows:
    """(user_id, language), by user and language."""
    stmt = (
        select(TolokerLanguage.user_id, TolokerLanguage.language)
        .where(TolokerLanguage.user_id.in_(ids))
        .order_by(TolokerLanguage.user_id, TolokerLanguage.language)
    )
    return session.execute(stmt).all()


def tolokers_to_render(session: Session, ids: Collection[str]) -> Rows:
    """(id, email, new_message switch)."""
    return session.execute(
        select(Toloker.id, Toloker.email, Toloker.email_new_message).where(Toloker.id.in_(ids))
    ).all()


def thread_pairs(
    session: Session,
    state: type[RequesterThread] | type[TolokerThread],
    owners: Collection[Any],
    thread_ids: Collection[int],
) -> set[tuple[Any, int]]:
    """The (owner, thread_id) pairs among these that exist in one side's thread rows (`state`:
    RequesterThread, owned by `requester_id`, or TolokerThread, by `user_id`)."""
    owner = state.requester_id if state is RequesterThread else TolokerThread.user_id
    stmt = select(owner, state.thread_id).where(owner.in_(owners), state.thread_id.in_(thread_ids))
    return {(o, t) for o, t in session.execute(stmt)}


def operations_to_render(session: Session, keys: Collection[tuple[int, str]]) -> Rows:
    """(requester_id, public_id, type, status, details) of these (requester_id, public id) pairs."""
    stmt = select(
        Operation.requester_id, Operation.public_id, Operation.type, Operation.status, Operation.details
    ).where(tuple_(Operation.requester_id, Operation.public_id).in_(list(keys)))
    return session.execute(stmt).all()
