"""Every query of the rewards domain, set-based: bonuses, async input chunks, quota counts,
the balance and its ledger (changes, the statement), stored bonus files, the references a
batch names, a group's members.

Functions take a session and plain values and return rows or values; they raise no API
errors (the calling modules decide what a missing row or a refused change means)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import ColumnElement, Result, Select, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from crowdpost.kit.bulk import chunks
from crowdpost.kit.ids import id_filter, parse_id
from crowdpost.kit.jsonwire import dumps, loads
from crowdpost.kit.pagination import ListParams, page_before, paginate, where_equal
from crowdpost.models import (
    Assignment,
    Bonus,
    BonusFile,
    BonusOperationChunk,
    BonusRequestCount,
    LedgerEntry,
    Requester,
    RequesterToloker,
    TolokerLanguage,
)

if TYPE_CHECKING:  # validation reads the references through this module
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


# --- the balance and its ledger (`ledger.change_balance`) ------------------------------

# Built once with bound values (building a statement costs more than running it) and run
# on the connection: plain SQL, no ORM evaluation of the WHERE clause against the session.
_APPLY_DELTA = (
    update(Requester)
    .where(Requester.id == bindparam("requester_id"), Requester.balance_micros + bindparam("delta") >= 0)
    .values(balance_micros=Requester.balance_micros + bindparam("delta"))
    .returning(Requester.balance_micros)
)
_INSERT_LINES = insert(LedgerEntry)


def apply_balance_delta(session: Session, requester_id: int, delta: int) -> int | None:
    """Adds `delta` to the balance unless it would go below zero (one conditional UPDATE; on
    PostgreSQL it takes the requester's row lock): the new balance, or None when nothing
    changed (no such requester, or not enough money)."""
    connection = session.connection()
    new_balance = connection.execute(_APPLY_DELTA, {"requester_id": requester_id, "delta": delta}).scalar_one_or_none()
    if new_balance is None:
        return None
    # A Requester this session already loaded shows the new balance, as an ORM UPDATE would.
    loaded = session.identity_map.get(identity_key(Requester, requester_id))
    if loaded is not None:
        set_committed_value(loaded, "balance_micros", new_balance)
    return int(new_balance)


def insert_ledger_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """The ledger rows of one balance change, in one executemany on the session's connection."""
    session.connection().execute(_INSERT_LINES, rows)


def _balance_of(requester_id: int) -> Select[int]:
    return select(Requester.balance_micros).where(Requester.id == requester_id)


def find_balance(session: Session, requester_id: int) -> int | None:
    """The balance in micros, or None when there is no such requester."""
    return session.execute(_balance_of(requester_id)).scalar_one_or_none()


def get_balance(session: Session, requester_id: int) -> int:
    """The balance in micros of a requester who exists (NoResultFound otherwise)."""
    return int(session.execute(_balance_of(requester_id)).scalar_one())


def ledger_total(session: Session, requester_id: int) -> int:
    """The signed sum of every ledger row of the requester."""
    return total_micros(session, LedgerEntry.amount_micros, LedgerEntry.requester_id == requester_id)


def reference_total(session: Session, requester_id: int, reference: str) -> int:
    """The signed sum of a requester's ledger rows with this reference (one operation's)."""
    return total_micros(
        session, LedgerEntry.amount_micros, LedgerEntry.requester_id == requester_id, LedgerEntry.reference == reference
    )


# --- the balance statement (`statement`) -----------------------------------------------


def _within_days(stmt: Select[Any], created: Any, start: date | None, end: date | None) -> Select[Any]:
    """`stmt`'s rows `created` on whole UTC days from `start` to `end` (inclusive; either open)."""
    if start is not None:
        stmt = stmt.where(created >= datetime.combine(start, time.min))
    if end is not None:
        stmt = stmt.where(created < datetime.combine(end + timedelta(days=1), time.min))
    return stmt


def _ledger_rows(requester_id: int, start: date | None, end: date | None) -> Select[LedgerEntry]:
    """The requester's ledger rows of whole UTC days from `start` to `end` (inclusive; either open)."""
    return _within_days(
        select(LedgerEntry).where(LedgerEntry.requester_id == requester_id), LedgerEntry.created, start, end
    )


def ledger_page(
    session: Session, requester_id: int, start: date | None, end: date | None, before_id: int | None, limit: int
) -> tuple[list[LedgerEntry], int | None]:
    """One page of ledger rows, newest first, and the `before_id` of the next page (None at the end)."""
    return page_before(session, _ledger_rows(requester_id, start, end), LedgerEntry.id, before_id, limit)


def ledger_sum_and_count(session: Session, requester_id: int) -> tuple[int, int]:
    """(the sum of every ledger row of the requester, how many rows), in one statement."""
    total, count = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0), func.count()).where(
            LedgerEntry.requester_id == requester_id
        )
    ).one()
    return int(total), int(count)


def ledger_period_totals(session: Session, requester_id: int, start: date | None, end: date | None) -> tuple[int, int]:
    """(money in, money out) in micros within the days; out is negative."""
    filtered = _ledger_rows(requester_id, start, end).subquery()
    amount = filtered.c.amount_micros
    money_in, money_out = session.execute(
        select(
            func.coalesce(func.sum(amount).filter(amount > 0), 0),
            func.coalesce(func.sum(amount).filter(amount < 0), 0),
        )
    ).one()
    return int(money_in), int(money_out)


# --- past bonuses for the Rewards page (`bonus_history`) -------------------------------


@dataclass(frozen=True)
class BonusQuery:
    """The Rewards page's filters of past bonuses."""

    user_id: str | None = None
    assignment_id: int | None = None
    start: date | None = None
    end: date | None = None  # inclusive, whole UTC days


def bonus_history_page(
    session: Session, requester_id: int, query: BonusQuery, before_id: int | None, limit: int
) -> tuple[list[Bonus], int | None]:
    """The requester's bonuses that `query` selects, newest first, and the `before_id` of the
    next page (None at the end)."""
    stmt = select(Bonus).where(Bonus.requester_id == requester_id)
    if query.user_id:
        stmt = stmt.where(Bonus.user_id == query.user_id)
    if query.assignment_id is not None:
        stmt = stmt.where(Bonus.assignment_id == query.assignment_id)
    stmt = _within_days(stmt, Bonus.created, query.start, query.end)
    return page_before(session, stmt, Bonus.id, before_id, limit)


# --- stored bonus files (`bonus_files`) -------------------------------------------------


def delete_bonus_files_before(session: Session, cutoff: datetime) -> None:
    """Housekeeping: every requester's files created before `cutoff`, in one DELETE."""
    session.execute(delete(BonusFile).where(BonusFile.created < cutoff))


def find_bonus_file(session: Session, requester_id: int, sha256: str) -> BonusFile | None:
    """The requester's file with this content (by its sha256), or None."""
    return session.execute(
        select(BonusFile).where(BonusFile.requester_id == requester_id, BonusFile.sha256 == sha256)
    ).scalar_one_or_none()


def get_bonus_file(session: Session, requester_id: int, file_id: int) -> BonusFile | None:
    return session.execute(
        select(BonusFile).where(BonusFile.requester_id == requester_id, BonusFile.id == file_id)
    ).scalar_one_or_none()


def add_bonus_file(session: Session, row: BonusFile) -> BonusFile:
    """Inserts a new file's row, flushed: its id is set."""
    session.add(row)
    session.flush()
    return row


# --- the references a batch names (`validation.check_references`) ---------------------

# Stay well below SQLite's 32,766 bound parameters per statement.
_IN_CHUNK = 5000
# Expanding IN parameters: one cached statement however many ids a batch has.
_WORKERS = select(RequesterToloker.user_id).where(
    RequesterToloker.requester_id == bindparam("requester_id"),
    RequesterToloker.user_id.in_(bindparam("ids", expanding=True)),
    RequesterToloker.started_count >= 1,
)
_OWNERS = select(Assignment.id, Assignment.user_id).where(
    Assignment.requester_id == bindparam("requester_id"),
    Assignment.id.in_(bindparam("ids", expanding=True)),
)


def started_tolokers(session: Session, requester_id: int, user_ids: Sequence[str]) -> set[str]:
    """Those of `user_ids` who started at least one of this requester's tasks."""
    workers: set[str] = set()
    for part in chunks(user_ids, _IN_CHUNK):
        workers.update(session.execute(_WORKERS, {"requester_id": requester_id, "ids": list(part)}).scalars())
    return workers


def assignment_owners(session: Session, requester_id: int, assignment_ids: Sequence[int]) -> dict[int, str]:
    """assignment id -> its Toloker, for those of `assignment_ids` in this requester's pools."""
    owners: dict[int, str] = {}
    for part in chunks(assignment_ids, _IN_CHUNK):
        rows = session.execute(_OWNERS, {"requester_id": requester_id, "ids": list(part)})
        owners.update((row.id, row.user_id) for row in rows)
    return owners


# --- a group's members (`group_bonus.items`) --------------------------------------------


def group_member_rows(session: Session, members: Select[str], limit: int) -> Result[Any]:
    """`(user_id,)` rows of the members' SELECT in Toloker id order, at most `limit`, streamed."""
    ordered = members.order_by("user_id").limit(limit)
    # Core rows on the session's connection (no ORM row processing), fetched in pages.
    return session.connection().execute(ordered, execution_options={"yield_per": 5000})
