"""Every query of the rewards domain, set-based: bonuses, async input chunks, quota counts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, Select, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from crowdpost.kit.ids import id_filter, parse_id
from crowdpost.kit.jsonwire import dumps, loads
from crowdpost.kit.pagination import ListParams, paginate, where_equal
from crowdpost.models import Bonus, BonusOperationChunk, BonusRequestCount, Requester, TolokerLanguage
from crowdpost.rewards.validation import BonusDraft

# PostgreSQL: bonus ids are taken and committed under this transaction lock, so they become
# visible in id order and a reader paging with `id_gt` never skips a late-committing row.
_PG_BONUS_ORDER_LOCK = 7_041_994
_BONUS_COLUMNS = (
    "id",
    "requester_id",
    "user_id",
    "amount_micros",
    "assignment_id",
    "private_comment",
    "public_title",
    "public_message",
    "without_message",
    "operation_id",
    "item_idx",
    "created",
)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


_PG_LOCK_IDS = text("SELECT pg_advisory_xact_lock(:lock)")
# Under that lock only we draw from the sequence: take the next id and move the
# sequence past the whole block in one statement. Returns the block's first id.
_PG_TAKE_IDS = text(
    "SELECT setval(pg_get_serial_sequence('bonuses', 'id'), "
    "nextval(pg_get_serial_sequence('bonuses', 'id')) + :n - 1) - :n + 1"
)


def _take_bonus_ids(session: Session, count: int) -> int:
    """Reserves `count` consecutive ids, in creation order; returns the first."""
    if _dialect(session) == "postgresql":
        session.execute(_PG_LOCK_IDS, {"lock": _PG_BONUS_ORDER_LOCK})
        return int(session.execute(_PG_TAKE_IDS, {"n": count}).scalar_one())
    # SQLite: write transactions are serial (BEGIN IMMEDIATE), so max + 1 is ours.
    top = session.connection().exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM bonuses").scalar_one()
    return int(top) + 1


# Titles and messages are language -> str only (validated), so the C encoder of the
# standard library does; built once, it is several times faster than json.dumps per row.
_TEXTS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class _TextCache:
    """Batches usually repeat one title and message: encode each distinct one once."""

    def __init__(self) -> None:
        self._last: dict[str, str] | None = None
        self._text: str | None = None

    def __call__(self, value: dict[str, str] | None) -> str | None:
        if value is None:
            return None
        if value != self._last:
            self._last, self._text = value, _TEXTS.encode(value)
        return self._text


def insert_bonuses(
    session: Session,
    requester_id: int,
    drafts: Sequence[BonusDraft],
    operation_id: int | None,
    created: datetime,
) -> list[int]:
    """One bulk statement for all `drafts` (COPY on PostgreSQL, executemany on SQLite);
    returns their ids, in order."""
    if not drafts:
        return []
    first = _take_bonus_ids(session, len(drafts))
    connection = session.connection()
    dialect = connection.dialect
    created_processor = Bonus.__table__.c.created.type.dialect_impl(dialect).bind_processor(dialect)
    created_value = created_processor(created) if created_processor else created
    titles, messages = _TextCache(), _TextCache()
    rows = [
        (
            first + n,
            requester_id,
            d.user_id,
            d.amount_micros,
            d.assignment_id,
            d.private_comment,
            titles(d.public_title),
            messages(d.public_message),
            d.without_message,
            operation_id,
            d.index if operation_id is not None else None,
            created_value,
        )
        for n, d in enumerate(drafts)
    ]
    columns = ", ".join(_BONUS_COLUMNS)
    if dialect.name == "postgresql":
        # COPY: PostgreSQL's bulk path, about 2.5x an executemany here (bench/RESULTS.md).
        statement = f"COPY bonuses ({columns}) FROM STDIN"
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.IntegrityError as exc:  # as SQLAlchemy reports it for every other statement
            raise IntegrityError(statement, None, exc) from exc
    else:
        # A plain DB-API executemany: no per-row ORM or type processing (values are ready).
        marks = ", ".join(["?"] * len(_BONUS_COLUMNS))
        sql = f"INSERT INTO bonuses ({columns}) VALUES ({marks})"  # noqa: S608 - constant names, bound values
        connection.exec_driver_sql(sql, rows)
    return list(range(first, first + len(drafts)))


def lock_balance(session: Session, requester_id: int) -> int:
    """The balance, with the requester's row locked until commit on PostgreSQL."""
    stmt = select(Requester.balance_micros).where(Requester.id == requester_id)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    return int(session.execute(stmt).scalar_one())


# --- the daily quota -------------------------------------------------------------------


def requests_on(session: Session, requester_id: int, day: date) -> int:
    count = session.execute(
        select(BonusRequestCount.count).where(
            BonusRequestCount.requester_id == requester_id, BonusRequestCount.day == day
        )
    ).scalar_one_or_none()
    return int(count or 0)


# The same upsert on SQLite and PostgreSQL; a constant statement, compiled once.
_COUNT_REQUEST = text(
    "INSERT INTO bonus_request_counts (requester_id, day, count) VALUES (:requester_id, :day, 1) "
    "ON CONFLICT (requester_id, day) DO UPDATE SET count = bonus_request_counts.count + 1 "
    "RETURNING count"
)


def do_count_request(session: Session, requester_id: int, day: date) -> int:
    """Adds one request to the day's count (atomic upsert); returns the new count."""
    # ISO text: what SQLAlchemy's Date stores on SQLite, and a date literal to PostgreSQL.
    counted = session.execute(_COUNT_REQUEST, {"requester_id": requester_id, "day": day.isoformat()}).scalar_one()
    return int(counted)


# --- async input ------------------------------------------------------------------------


def checks_when_stored(session: Session) -> bool:
    """Whether the request that stores an all-or-nothing batch checks its items itself (so a
    valid batch needs no check pass): on PostgreSQL, where its row locks let other payments
    run meanwhile (100,000 bonuses: about 1 s more in the request, 1.5-2 s less in the
    worker). SQLite has one writer, which would wait out that second; there the worker's
    check pass does it, a chunk per transaction."""
    return _dialect(session) == "postgresql"


def insert_chunks(session: Session, operation_id: int, items: Sequence[Any], chunk_size: int) -> None:
    """Stores the items as slices of wire JSON, a few slices per statement (bounded memory)."""
    per_statement = 16
    batch: list[dict[str, Any]] = []
    for first in range(0, len(items), chunk_size):
        part = items[first : first + chunk_size]
        batch.append(
            {
                "operation_id": operation_id,
                "first_item": first,
                "item_count": len(part),
                "items": dumps(part).decode("utf-8"),
                "errors": None,
            }
        )
        if len(batch) == per_statement:
            session.execute(insert(BonusOperationChunk), batch)
            batch = []
    if batch:
        session.execute(insert(BonusOperationChunk), batch)


@dataclass(frozen=True)
class Chunk:
    first_item: int
    items: list[Any]
    errors: dict[str, Any]


def decode_chunk(first_item: int, items: str, errors: str | None) -> Chunk:
    return Chunk(first_item, loads(items.encode("utf-8")), loads(errors.encode()) if errors else {})


_CHUNK_COLUMNS = (BonusOperationChunk.first_item, BonusOperationChunk.items, BonusOperationChunk.errors)


def get_chunk_text(session: Session, operation_id: int, first_item: int) -> tuple[str, str | None] | None:
    """A stored chunk as its text: (items, errors), or None past the last chunk."""
    row = session.execute(
        select(*_CHUNK_COLUMNS).where(
            BonusOperationChunk.operation_id == operation_id, BonusOperationChunk.first_item == first_item
        )
    ).one_or_none()
    return (row.items, row.errors) if row is not None else None


def get_chunk(session: Session, operation_id: int, first_item: int) -> Chunk | None:
    found = get_chunk_text(session, operation_id, first_item)
    return decode_chunk(first_item, *found) if found is not None else None


def iter_chunks(session: Session, operation_id: int) -> Iterator[Chunk]:
    """The operation's chunks in item order, one query per chunk (by primary key), so at
    most one chunk is in memory however large the batch."""
    first_item = 0
    while (chunk := get_chunk(session, operation_id, first_item)) is not None and chunk.items:
        yield chunk
        first_item += len(chunk.items)


def set_chunk_errors(session: Session, operation_id: int, first_item: int, errors: dict[str, Any]) -> None:
    session.execute(
        update(BonusOperationChunk)
        .where(BonusOperationChunk.operation_id == operation_id, BonusOperationChunk.first_item == first_item)
        .values(errors=dumps(errors).decode("utf-8") if errors else None)
    )


def bonus_ids_of_items(
    session: Session, requester_id: int, operation_id: int, first_item: int, end_item: int
) -> dict[int, int]:
    """item index -> bonus id for what the operation paid of items [first_item, end_item)
    (the unique (operation, item) index answers it; the requester routes it to one shard)."""
    rows = session.execute(
        select(Bonus.item_idx, Bonus.id).where(
            Bonus.requester_id == requester_id,
            Bonus.operation_id == operation_id,
            Bonus.item_idx >= first_item,
            Bonus.item_idx < end_item,
        )
    )
    return {int(idx): int(bonus_id) for idx, bonus_id in rows if idx is not None}


def total_micros(session: Session, column: InstrumentedAttribute[int], *where: ColumnElement[bool]) -> int:
    """The sum of a micros column over the rows `where` selects (0 for none)."""
    return int(session.execute(select(func.coalesce(func.sum(column), 0)).where(*where)).scalar_one())


def paid_in_operation(session: Session, requester_id: int, operation_id: int) -> int:
    """What the requester's bonuses of one operation add up to, in micros."""
    return total_micros(
        session, Bonus.amount_micros, Bonus.requester_id == requester_id, Bonus.operation_id == operation_id
    )


def bonuses_of_operation(session: Session, requester_id: int, operation_id: int) -> list[Bonus]:
    return list(
        session.execute(
            select(Bonus)
            .where(Bonus.requester_id == requester_id, Bonus.operation_id == operation_id)
            .order_by(Bonus.item_idx)
        ).scalars()
    )


# --- reading bonuses --------------------------------------------------------------------


@dataclass
class BonusFilters:
    user_id: str | None = None
    assignment_id: str | None = None
    private_comment: str | None = None


def get_bonus(session: Session, requester_id: int, public_id: str) -> Bonus | None:
    number = parse_id(public_id)
    if number is None:
        return None
    return session.execute(
        select(Bonus).where(Bonus.id == number, Bonus.requester_id == requester_id)
    ).scalar_one_or_none()


def _paged(session: Session, stmt: Select[Any], params: ListParams) -> tuple[list[Bonus], bool]:
    return paginate(session, stmt, params, id_column=Bonus.id, sort_fields={"id": Bonus.id, "created": Bonus.created})


def list_bonuses(
    session: Session, requester_id: int, filters: BonusFilters, params: ListParams
) -> tuple[list[Bonus], bool]:
    stmt = where_equal(
        select(Bonus).where(Bonus.requester_id == requester_id),
        (Bonus.user_id, filters.user_id),
        (Bonus.assignment_id, id_filter(filters.assignment_id)),
        (Bonus.private_comment, filters.private_comment),
    )
    return _paged(session, stmt, params)


def list_toloker_bonuses(session: Session, toloker_id: str, params: ListParams) -> tuple[list[Bonus], bool]:
    return _paged(session, select(Bonus).where(Bonus.user_id == toloker_id), params)


def toloker_languages(session: Session, toloker_id: str) -> list[str]:
    return sorted(
        session.execute(select(TolokerLanguage.language).where(TolokerLanguage.user_id == toloker_id)).scalars()
    )


def requester_names(session: Session, requester_ids: set[int]) -> dict[int, dict[str, str]]:
    if not requester_ids:
        return {}
    rows = session.execute(select(Requester.id, Requester.public_name).where(Requester.id.in_(requester_ids)))
    return {row.id: row.public_name for row in rows}
