"""Citus readiness: every table is placed, the checker catches what one shard could not run,
and the README names every table's distribution column.

The suite itself is the other half: `tests/fixtures/statements.py` records every statement the
service runs while the whole suite runs and fails the session on any the checker here rejects
(its report: `.pytest_cache/citus/statements.txt`). These tests prove the checker can fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from crowdpost.distribution import PLACEMENTS, Kind
from crowdpost.models import Base
from tests.fixtures.citus import check
from tests.fixtures.readiness import ALLOWED, check_statements
from tests.fixtures.statements import RECORDER, normalize

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_table_is_placed() -> None:
    tables = set(Base.metadata.tables) | {"alembic_version"}
    assert sorted(tables - set(PLACEMENTS)) == [], "tables crowdpost.distribution does not place"
    assert sorted(set(PLACEMENTS) - tables) == [], "placed tables the schema does not have"


def test_distribution_columns_exist_and_are_required() -> None:
    for name, placement in PLACEMENTS.items():
        if placement.column is None:
            assert placement.kind in (Kind.REFERENCE, Kind.LOCAL), name
            continue
        column = Base.metadata.tables[name].c[placement.column]
        # Citus refuses a row whose distribution column is NULL: only a documented gap may allow one.
        assert not column.nullable or placement.gap, f"{name}.{placement.column} may be NULL"


# --- what goes to one shard ---------------------------------------------------------------

ROUTED = [
    # One requester's rows by their id and the requester's.
    "SELECT bonuses.id FROM bonuses WHERE bonuses.requester_id = %(r)s AND bonuses.id = %(id)s",
    "SELECT s.id FROM skills AS s WHERE s.requester_id IN (%(r_1_N)s)",
    "SELECT requesters.balance_micros FROM requesters WHERE requesters.id = %(id_1)s FOR UPDATE",
    # A join between two requester tables on requester_id; the second needs no value of its own.
    "SELECT b.id FROM bonuses AS b JOIN assignments AS a ON a.id = b.assignment_id"
    " AND a.requester_id = b.requester_id WHERE b.requester_id = %(r)s",
    # Both held to the same parameter.
    "SELECT b.id FROM bonuses AS b JOIN assignments AS a ON a.id = b.assignment_id"
    " WHERE b.requester_id = %(r)s AND a.requester_id = %(r)s",
    # Reference tables join with anything.
    "SELECT t.id FROM tolokers AS t JOIN requester_tolokers AS rt ON rt.user_id = t.id WHERE rt.requester_id = %(r)s",
    # A correlated subquery held through its enclosing level's requester.
    "SELECT p.id FROM pools AS p WHERE p.requester_id = %(r)s AND EXISTS"
    " (SELECT 1 FROM assignments AS a WHERE a.pool_id = p.id AND a.requester_id = p.requester_id)",
    # A CTE carrying the requester.
    "WITH mine AS (SELECT a.user_id, a.requester_id FROM assignments AS a WHERE a.requester_id = %(r)s)"
    " SELECT b.id FROM bonuses AS b JOIN mine ON mine.requester_id = b.requester_id",
    # A Toloker's rows by the Toloker.
    "SELECT tt.thread_id FROM toloker_threads AS tt WHERE tt.user_id = %(u)s AND tt.unread",
    # Writes.
    "INSERT INTO bonuses (requester_id, user_id) VALUES (%(r)s, %(u)s), (%(r)s, %(u2)s)",
    "INSERT INTO requesters (public_name) VALUES (%(name)s) RETURNING requesters.id",
    "INSERT INTO bonuses (requester_id, user_id) SELECT a.requester_id, a.user_id FROM assignments AS a"
    " WHERE a.requester_id = %(r)s",
    "INSERT INTO bonuses (requester_id, user_id) SELECT %(r)s, a.user_id FROM assignments AS a"
    " WHERE a.requester_id = %(r)s",
    # Data-modifying CTEs writing rows co-located with what they read.
    "WITH p AS (SELECT b.id, b.requester_id FROM bonuses AS b WHERE b.requester_id = %(r)s),"
    " t AS (INSERT INTO message_threads (id, requester_id) SELECT p.id, p.requester_id FROM p)"
    " INSERT INTO messages (thread_id, requester_id) SELECT p.id, p.requester_id FROM p",
    "UPDATE requesters SET balance_micros = requesters.balance_micros + %(d)s WHERE requesters.id = %(r)s",
    "DELETE FROM bonus_files WHERE bonus_files.requester_id = %(r)s AND bonus_files.created < %(t)s",
    # Local and reference tables, and statements on no table.
    "SELECT jobs.id FROM jobs WHERE jobs.status = 'QUEUED' ORDER BY jobs.id FOR UPDATE SKIP LOCKED",
    "SELECT api_tokens.role FROM api_tokens WHERE api_tokens.token_hash = %(h)s",
    "SELECT pg_advisory_xact_lock(%(lock_class)s, k) FROM unnest(%(keys)s::INTEGER[]) AS k ORDER BY k",
]

NOT_ROUTED = [
    # An id alone: every shard is asked.
    ("SELECT bonuses.id FROM bonuses WHERE bonuses.id = %(id)s", "no condition on requester_id"),
    ("UPDATE pools SET status = %(s)s WHERE pools.id = %(id)s", "no condition on requester_id"),
    ("DELETE FROM bonus_files WHERE bonus_files.created < %(t)s", "no condition on requester_id"),
    # A condition inside an OR holds nothing.
    (
        "SELECT skills.id FROM skills WHERE skills.requester_id = %(r)s OR skills.hidden",
        "no condition on requester_id",
    ),
    # A join between two requester tables not on requester_id.
    (
        "SELECT b.id FROM bonuses AS b JOIN assignments AS a ON a.id = b.assignment_id WHERE b.requester_id = %(r)s",
        "assignments: no condition on requester_id",
    ),
    # Two requesters' rows in one join.
    (
        "SELECT b.id FROM bonuses AS b JOIN assignments AS a ON a.id = b.assignment_id"
        " WHERE b.requester_id = %(r)s AND a.requester_id = %(other)s",
        "held to different values",
    ),
    # A subquery that reads every requester's rows.
    (
        "SELECT t.id FROM tolokers AS t WHERE EXISTS (SELECT 1 FROM user_skills AS s WHERE s.user_id = t.id)",
        "user_skills: no condition on requester_id",
    ),
    # A Toloker's table without the Toloker.
    ("SELECT tt.user_id FROM toloker_threads AS tt WHERE tt.thread_id = %(t)s", "no condition on user_id"),
    # Writes that lose the distribution column or move a row.
    ("INSERT INTO bonuses (user_id) VALUES (%(u)s)", "without its requester_id"),
    ("INSERT INTO bonuses (requester_id, user_id) VALUES (NULL, %(u)s)", "NULL requester_id"),
    ("UPDATE bonuses SET requester_id = %(r2)s WHERE bonuses.requester_id = %(r)s", "sets its distribution column"),
    # INSERT ... SELECT from another requester's rows.
    (
        "INSERT INTO bonuses (requester_id, user_id) SELECT %(r)s, a.user_id FROM assignments AS a"
        " WHERE a.requester_id = %(other)s",
        "another tenant's shard",
    ),
    # INSERT ... SELECT into a Toloker's shard from a requester's.
    (
        "INSERT INTO toloker_threads (user_id, thread_id) SELECT a.user_id, 1 FROM assignments AS a"
        " WHERE a.requester_id = %(r)s",
        "not co-located",
    ),
    # The same through a CTE, and a data-modifying CTE's own statement.
    (
        "WITH p AS (SELECT b.user_id, b.requester_id FROM bonuses AS b WHERE b.requester_id = %(r)s)"
        " INSERT INTO toloker_threads (user_id, thread_id) SELECT p.user_id, 1 FROM p",
        "not co-located",
    ),
    (
        "WITH p AS (SELECT b.id, b.requester_id FROM bonuses AS b WHERE b.requester_id = %(r)s),"
        " t AS (INSERT INTO toloker_threads (user_id, thread_id) SELECT p.id, 1 FROM p)"
        " INSERT INTO messages (thread_id, requester_id) SELECT p.id, p.requester_id FROM p",
        "not co-located",
    ),
    (
        "WITH t AS (UPDATE pools SET status = %(s)s WHERE pools.id = %(id)s RETURNING pools.id) SELECT 1",
        "no condition on requester_id",
    ),
    ("SELECT x FROM not_a_table", "does not classify"),
]


@pytest.mark.parametrize("sql", ROUTED)
def test_routed_statements_pass(sql: str) -> None:
    assert check(sql) == []


@pytest.mark.parametrize(("sql", "problem"), NOT_ROUTED)
def test_statements_one_shard_cannot_run_are_flagged(sql: str, problem: str) -> None:
    problems = check(sql)
    assert problems, f"not flagged: {sql}"
    assert any(problem in p for p in problems), problems


def test_bound_values_tell_two_parameters_apart() -> None:
    join = (
        "SELECT b.id FROM bonuses AS b JOIN assignments AS a ON a.id = b.assignment_id"
        " WHERE b.requester_id = %(requester_id_1)s AND a.requester_id = %(requester_id_2)s"
    )
    assert check(join, {"requester_id_1": 7, "requester_id_2": 7}) == []
    assert check(join, {"requester_id_1": 7, "requester_id_2": 8}) != []


# --- the session's report -----------------------------------------------------------------


def _row(text: str, origin: str = "service", site: str = "crowdpost/x.py:f", dialect: str = "postgresql") -> Any:
    return {"dialect": dialect, "origin": origin, "text": text, "site": site, "test": "t", "params": {}, "count": 1}


def test_the_report_fails_only_the_services_unrouted_statements(tmp_path: Path) -> None:
    unrouted = "SELECT bonuses.id FROM bonuses WHERE bonuses.id = %(id)s"
    report = check_statements(
        [
            _row(unrouted),
            _row(unrouted),  # another worker's copy: one statement
            _row(unrouted, origin="test"),
            _row(unrouted, origin="migration"),
            _row("SELECT bonuses.id FROM bonuses WHERE bonuses.id = ?", dialect="sqlite"),
            _row(ROUTED[0]),
        ]
    )
    assert [v.row["text"] for v in report.failures] == [unrouted]
    assert report.failures[0].row["count"] == 2
    report.write(tmp_path)
    listed = (tmp_path / "statements.txt").read_text(encoding="utf-8")
    assert listed.startswith("[FAILS] postgresql service crowdpost/x.py:f x2")
    assert "2 distinct PostgreSQL statements of the service checked: 1 go to one shard" in report.summary()[0]


def test_an_allowed_site_is_reported_with_its_reason() -> None:
    site, (why, _) = next(iter(ALLOWED.items()))
    report = check_statements([_row("SELECT bonuses.id FROM bonuses WHERE bonuses.id = %(id)s", site=site)])
    assert report.failures == []
    assert why in report.verdicts[0].detail


def test_an_allowed_site_allows_only_its_named_problem() -> None:
    """A fan-out may write to the Tolokers' shards, not read every requester's rows."""
    site = "crowdpost/messaging/repository.py:fan_out"
    repartitioned = (
        "INSERT INTO toloker_threads (user_id, thread_id) SELECT r.user_id, 1 FROM recipient_outcomes AS r"
        " WHERE r.requester_id = %(r)s"
    )
    unheld = repartitioned.replace(" WHERE r.requester_id = %(r)s", " WHERE r.thread_id = %(t)s")
    report = check_statements([_row(repartitioned, site=site), _row(unheld, site=site)])
    assert [v.row["text"] for v in report.failures] == [unheld]


def test_the_recorder_sees_statements_and_who_ran_them(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    marker = "SELECT 42 AS recorded_by_the_citus_test"
    with engine.connect() as conn:
        conn.execute(text(marker))
    engine.dispose()
    rows = [row for row in RECORDER.rows() if row["text"] == marker]
    assert rows
    assert rows[0]["origin"] == "test"
    assert rows[0]["site"].startswith("tests/test_citus_readiness.py:")


def test_many_values_of_one_statement_are_one_text() -> None:
    one = normalize("postgresql", "SELECT t.id FROM t WHERE t.id IN (%(id_1_1)s::VARCHAR)")
    three = normalize(
        "postgresql", "SELECT t.id FROM t WHERE t.id IN (%(id_1_1)s::VARCHAR, %(id_1_2)s::VARCHAR, %(id_1_3)s::VARCHAR)"
    )
    assert one == three
    rows = normalize("postgresql", "INSERT INTO t (a, b) VALUES (%(a__0)s, %(b__0)s), (%(a__1)s, %(b__1)s)")
    assert rows == "INSERT INTO t (a, b) VALUES (%(a__N)s, %(b__N)s)"
    # Two parameters stay two: the check compares their values.
    assert "%(r_1)s" in normalize("postgresql", "SELECT 1 WHERE a = %(r_1)s AND b = %(r_2)s")


# --- the README names every table's place -------------------------------------------------

_ROW = re.compile(r"^\| `(\w+)` \| (.+?) \|", re.MULTILINE)


def test_readme_names_every_tables_distribution_column() -> None:
    section = README.read_text(encoding="utf-8").split("### Distributing with Citus", 1)
    assert len(section) == 2, "README has no 'Distributing with Citus' section"
    rows = dict(_ROW.findall(section[1].split("\n## ", 1)[0]))
    assert sorted(rows) == sorted(PLACEMENTS)
    for name, placement in PLACEMENTS.items():
        expected = f"`{placement.column}`" if placement.column else placement.kind.value
        assert rows[name].startswith(expected), f"README: {name} is '{rows[name]}', expected {expected}"
