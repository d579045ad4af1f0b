"""The SQL of audiences: who receives a DIRECT, FILTER or ALL send, as one SELECT.

The rules (callers go through `workforce.service.audience`, which checks the request first):

    ALL     Tolokers who started at least `min_started` of this requester's tasks
            (`settings.all_recipients_min_started`, 2 by default: the seed's rule)
    FILTER  Tolokers who started at least one of this requester's tasks and match the filter
    DIRECT  the given ids that are Tolokers and started at least one of this requester's tasks

Exclusion: a Toloker with any *active* ban set by this requester (`restrictions.active_bans`:
not deleted, and `will_expire` empty or in the future by the database's clock) receives
nothing, whatever the ban's scope. A message is not tied to a pool or project, and the seed
says to write only to Tolokers who are not banned, so a project- or pool-scoped ban
excludes too.

`audience_select` is one statement (usable in `INSERT ... SELECT`); every Toloker id
appears once, because the query is driven by `requester_tolokers`, whose key is
(requester_id, user_id), and joins `tolokers` one-to-one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, String, case, false, func, literal, null, select, text, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.selectable import Exists

from crowdpost.kit.ordered_join import OrderedJoin
from crowdpost.models import Assignment, RequesterToloker, Toloker, UserRestriction
from crowdpost.workforce.filters import UserIdColumn, compile_filter, parse_filter, uses_profile
from crowdpost.workforce.repository.restrictions import active_bans
from crowdpost.workforce.schemas import AudienceRequest

# A requester with more Tolokers than this gets the "scan tolokers" plan on SQLite.
LARGE_AUDIENCE = 20_000


def is_banned(requester_id: int, user_id: InstrumentedAttribute[str] | ColumnElement[str]) -> Exists:
    """`EXISTS` an active ban by this requester on the Toloker in `user_id`.

    A correlated EXISTS rather than `NOT IN (list)`: PostgreSQL turns it into a hashed
    anti-join at any size (a `NOT IN` list larger than work_mem is re-scanned per row),
    and SQLite answers it with one probe of (user_id, requester_id)."""
    bans = select(UserRestriction.id).where(
        UserRestriction.user_id == user_id, UserRestriction.requester_id == requester_id
    )
    return active_bans(bans).exists()


def banned_ids(requester_id: int) -> Select[str]:
    """Each Toloker with an active ban by this requester, once."""
    return active_bans(select(UserRestriction.user_id).where(UserRestriction.requester_id == requester_id)).distinct()


def is_large_audience(session: Session, requester_id: int) -> bool:
    """Whether the requester has more than LARGE_AUDIENCE Tolokers (reads at most that many
    index entries): the hint `audience_select` takes to choose its plan."""
    capped = select(RequesterToloker.user_id).where(RequesterToloker.requester_id == requester_id)
    seen = session.execute(select(func.count()).select_from(capped.limit(LARGE_AUDIENCE + 1).subquery()))
    return int(seen.scalar_one()) > LARGE_AUDIENCE


@dataclass(frozen=True)
class Candidates:
    """An audience before bans are taken out, its filter parsed and compiled once: the
    statement, and the Toloker id column of its driving table (`key`), which a count
    compares to narrow it to one Toloker."""

    requester_id: int
    stmt: Select[str]
    key: UserIdColumn


def candidates(
    req: AudienceRequest, *, min_started: int, large: bool = True, skills_joined: bool = False
) -> Candidates:
    """Build the audience of a checked request once; `members`, `count_filtered` and
    `direct_candidates` take it from here. `skills_joined`: a FILTER's skill probes as
    outer joins (`filters.SkillJoins`; see `skills_joined`).
    Raises ValidationFailed (naming the path inside the filter) for a bad filter."""
    worked = RequesterToloker
    stmt = select(worked.user_id.label("user_id")).where(worked.requester_id == req.requester_id)
    key: UserIdColumn = worked.user_id  # the Toloker id of the driving table
    if req.select_type == "ALL":
        stmt = stmt.where(worked.started_count >= min_started)
    elif req.select_type == "DIRECT":
        ids = list(dict.fromkeys(req.recipients_ids or ()))
        stmt = stmt.where(worked.started_count >= 1, worked.user_id.in_(ids) if ids else false())
    else:
        stmt, key = _filtered(stmt.where(worked.started_count >= 1), req, large=large, skills_joined=skills_joined)
    return Candidates(req.requester_id, stmt, key)


def pool_candidates(requester_id: int, pool_id: int) -> Candidates:
    """Tolokers with an assignment (any status) in one pool of this requester, each once,
    before bans are taken out: the audience "Tolokers of one pool" (the caller has checked
    that the pool is this requester's). Driven by `requester_tolokers`, as every audience,
    so `members` and `count_filtered` take it as they are."""
    worked = RequesterToloker
    in_pool = select(Assignment.user_id).where(Assignment.requester_id == requester_id, Assignment.pool_id == pool_id)
    stmt = select(worked.user_id.label("user_id")).where(
        worked.requester_id == requester_id, worked.started_count >= 1, worked.user_id.in_(in_pool)
    )
    return Candidates(requester_id, stmt, worked.user_id)


def _filtered(
    stmt: Select[str], req: AudienceRequest, *, large: bool, skills_joined: bool
) -> tuple[Select[str], UserIdColumn]:
    """Add the filter, joining `tolokers` in the order `large` asks for when it needs it,
    and the skill rows it reads through outer joins when `skills_joined`."""
    node = parse_filter(req.recipients_filter)
    worked = RequesterToloker
    key: UserIdColumn = worked.user_id
    if uses_profile(node):
        # The join order is ours on SQLite (`OrderedJoin`): it cannot tell how selective profile
        # conditions are. For a requester with many Tolokers the query reads `tolokers` once and
        # probes `requester_tolokers` only for rows that passed the column conditions, bounding
        # the cost by one table scan; for a requester with few it walks their Tolokers and looks
        # each profile up by key. PostgreSQL plans either itself.
        on = (worked.requester_id == req.requester_id) & (worked.user_id == Toloker.id)
        if large:  # scan tolokers; sub-selects correlate with it, so SQLite runs them before the probe
            stmt, key = stmt.select_from(OrderedJoin(Toloker.__table__, worked.__table__, on)), Toloker.id
        else:
            stmt = stmt.select_from(OrderedJoin(worked.__table__, Toloker.__table__, on))
    compiled = compile_filter(node, requester_id=req.requester_id, user_id=key, skills_joined=skills_joined)
    for row, joined_on in compiled.outer_joins:
        stmt = stmt.outerjoin(row, joined_on)
    return stmt.where(compiled.condition), key


def skills_joined(session: Session, large: bool) -> bool:
    """Whether a FILTER's skill probes should be outer joins: on PostgreSQL for a large
    requester, where they let the scan of `tolokers` run in parallel workers
    (`filters.SkillJoins`). SQLite keeps its ordered probes, which stop at the first
    condition an "or" meets, and a small requester's few Tolokers are probed either way."""
    return large and session.get_bind().dialect.name == "postgresql"


def members(found: Candidates) -> Select[str]:
    """ONE SQL SELECT of distinct Toloker ids (column `user_id`) who receive; banned excluded."""
    return found.stmt.where(~is_banned(found.requester_id, RequesterToloker.user_id))


def addressed(found: Candidates, req: AudienceRequest) -> Select[str, str | None]:
    """ONE SQL SELECT of every addressed Toloker id (`user_id`) once, with why they are left out
    (`left_out`): NULL (they receive), 'BANNED', and for DIRECT ids also 'UNKNOWN' (no such
    Toloker) or 'NOT_YOURS' (never started this requester's tasks). A FILTER or ALL send
    addresses its candidates (bans are the only reason to leave one out); a DIRECT send the
    ids as given, each once.

    Telling 'UNKNOWN' from 'NOT_YOURS' is what issue 14 asks of a send's outcomes; it is also
    the one place a requester can learn whether an id they never worked with is a Toloker
    (bans, skills, bonuses and the dry run answer both alike). Answering 'UNKNOWN' for both
    here closes it."""
    if req.select_type != "DIRECT":
        banned = case((is_banned(found.requester_id, RequesterToloker.user_id), "BANNED"), else_=null())
        return found.stmt.add_columns(banned.label("left_out"))
    ids = list(dict.fromkeys(req.recipients_ids or ()))  # at most 100 (`check_compose`)
    given = [select(literal(uid, String).label("user_id")) for uid in ids]
    listed = (given[0] if len(given) == 1 else union_all(*given)).subquery("addressed")
    mine = found.stmt.subquery("mine")  # the ids that started this requester's tasks
    left_out = case(
        (mine.c.user_id.is_not(None), case((is_banned(found.requester_id, listed.c.user_id), "BANNED"), else_=null())),
        (Toloker.id.is_(None), "UNKNOWN"),
        else_="NOT_YOURS",
    )
    return (
        select(listed.c.user_id, left_out.label("left_out"))
        .select_from(listed)
        .outerjoin(mine, mine.c.user_id == listed.c.user_id)
        .outerjoin(Toloker, Toloker.id == listed.c.user_id)
    )


def audience_select(
    req: AudienceRequest, *, min_started: int, large: bool = True, skills_joined: bool = False
) -> Select[str]:
    """ONE SQL SELECT of distinct Toloker ids (column `user_id`) who receive; banned excluded.

    `large=False` (from `is_large_audience`) lets SQLite walk a small requester's own
    Tolokers instead of scanning every Toloker; `skills_joined` reads skills through outer
    joins. The result is the same either way.
    Raises ValidationFailed (naming the path inside the filter) for a bad filter."""
    return members(candidates(req, min_started=min_started, large=large, skills_joined=skills_joined))


# PostgreSQL's default work_mem (4 MB) is a few hundred thousand ids: the hash of a large
# pool's participants (an anti-join for "never in project ...", a GROUP BY for "at least 2")
# spilled to disk and passed the 1 s target over 2,000,000 assignments (bench/recipients.py).
# Raised for the audience's transaction only, at most once per hash in its statements.
AUDIENCE_WORK_MEM = "64MB"


def roomy_work_mem(session: Session) -> None:
    """PostgreSQL: AUDIENCE_WORK_MEM for the rest of this transaction (`set_config(..., true)`,
    so it ends with it and needs no session state: safe behind a transaction pooler)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config('work_mem', :size, true)"), {"size": AUDIENCE_WORK_MEM})


def count_filtered(session: Session, found: Candidates) -> tuple[int, int]:
    """ALL/FILTER: (how many receive, how many candidates an active ban leaves out), in one
    pass over the candidates: each is counted, and counted again as banned when it is in the
    requester's set of banned Tolokers, an uncorrelated `IN` that PostgreSQL hashes once and
    SQLite turns into one temporary index. Two statements (the audience without the banned,
    then the bans among the candidates) read the candidates twice: 1,071 -> 821 ms for the
    nested case over 1,000,000 Tolokers on PostgreSQL, 737 -> 665 ms on SQLite
    (bench/recipients.py cases, paired; none slower beyond the noise on either backend)."""
    banned = found.key.in_(banned_ids(found.requester_id))
    candidates_count, left_out = session.execute(
        found.stmt.with_only_columns(func.count(), func.count().filter(banned))
    ).one()
    return int(candidates_count) - int(left_out), int(left_out)


def direct_candidates(session: Session, found: Candidates) -> dict[str, bool]:
    """DIRECT: each candidate id -> whether an active ban leaves it out."""
    listed = found.stmt.subquery()
    bans = banned_ids(found.requester_id).subquery()
    rows = session.execute(
        select(listed.c.user_id, bans.c.user_id.is_not(None)).select_from(
            listed.outerjoin(bans, bans.c.user_id == listed.c.user_id)
        )
    ).all()
    return {user_id: bool(banned) for user_id, banned in rows}
