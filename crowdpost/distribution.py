"""Where every table would live on a Citus cluster: the one classification of the schema.

Past one PostgreSQL, crowdpost's tables can be distributed with Citus. Each table is one of:

- **distributed by a requester** (`requester_id`, or `id` for `requesters` itself): every
  requester's rows on one shard group, co-located, so a request of one requester is routed to
  one node and a join of two such tables on `requester_id` stays on it;
- **distributed by a Toloker** (`user_id`): a Toloker's own view of their threads, read by the
  Toloker's pages and API, written by every requester who writes to them;
- **reference**: small or global data every node needs for joins (Tolokers' profiles, which
  audiences join with every requester's rows; tokens looked up before the caller is known;
  the installation's secrets), replicated to every node;
- **local** (coordinator only): queues and logs that no requester's statement joins with,
  claimed across requesters by the workers (`FOR UPDATE SKIP LOCKED` needs one node), and
  per-browser session rows written on every page view (replicating those would cost a
  two-phase commit per click).

`tests/test_citus_readiness.py` fails when a table of the metadata is missing here, and the
suite checks every statement it runs against this (`tests/citus.py`): a statement on a
distributed table must name its distribution column's value. The README's "Distributing with
Citus" table is written from `PLACEMENTS` and checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    BY_REQUESTER = "distributed by requester"
    BY_TOLOKER = "distributed by Toloker"
    REFERENCE = "reference"
    LOCAL = "local"


@dataclass(frozen=True)
class Placement:
    kind: Kind
    # The distribution column (None for reference and local tables).
    column: str | None
    why: str
    # The distribution column is the table's own sequence (`requesters.id`): an INSERT without
    # it is routed once the coordinator has taken the next value.
    serial: bool = False
    # What must change before the table can be distributed (None: nothing).
    gap: str | None = None


def _requester(why: str, column: str = "requester_id", gap: str | None = None) -> Placement:
    return Placement(Kind.BY_REQUESTER, column, why, serial=column == "id", gap=gap)


_PLATFORM_GAP = (
    "an operator's platform message is one thread (and one message) with no requester, shared by"
    " every requester it reaches: it must become one thread per requester first"
)


def _toloker(why: str) -> Placement:
    return Placement(Kind.BY_TOLOKER, "user_id", why)


def _reference(why: str) -> Placement:
    return Placement(Kind.REFERENCE, None, why)


def _local(why: str) -> Placement:
    return Placement(Kind.LOCAL, None, why)


PLACEMENTS: dict[str, Placement] = {
    # accounts
    "requesters": _requester("the requester itself: its balance row is locked with its ledger rows", column="id"),
    "ledger_entries": _requester("a requester's balance changes"),
    "api_tokens": _reference("looked up by the token's hash before the caller is known; written rarely"),
    "web_sessions": _local("looked up by the cookie's hash before the caller is known; touched on every page"),
    "sign_in_failures": _local("keyed by the e-mail tried, whoever it belongs to; pruned by age"),
    # workforce
    "tolokers": _reference("Tolokers' profiles: every requester's audience filters join with them"),
    "toloker_languages": _reference("part of a Toloker's profile, filtered on with it"),
    "toloker_web_sessions": _local("looked up by the cookie's hash before the caller is known; touched on every page"),
    "skills": _requester("a requester's skills"),
    "user_skills": _requester("the values of a requester's skills"),
    "user_skill_changes": _requester("the history of a requester's skill values"),
    "user_restrictions": _requester("a requester's bans"),
    "projects": _requester("a requester's projects"),
    "pools": _requester("a requester's pools"),
    "assignments": _requester("work done for a requester"),
    "requester_tolokers": _requester("who worked for a requester (audiences)"),
    # rewards and operations
    "bonuses": _requester("bonuses a requester paid"),
    "bonus_request_counts": _requester("a requester's daily bonus quota"),
    "bonus_files": _requester("a requester's uploaded CSVs between preview and payment"),
    "bonus_operation_chunks": _local(
        "an async operation's input, written once and read by the worker that pays it, one"
        " (operation, chunk) at a time after the operation was found by its requester; no"
        " requester_id column to distribute it by (a migration would add one)"
    ),
    "operations": _requester("a requester's async operations"),
    # messaging
    "message_threads": _requester("a requester's conversations", gap=_PLATFORM_GAP),
    "messages": _requester("the messages of a requester's conversations", gap=_PLATFORM_GAP),
    "requester_threads": _requester("a requester's folder rows"),
    "toloker_threads": _toloker("a Toloker's folder rows: their Inbox across every requester"),
    "recipient_outcomes": _requester("what became of each addressed Toloker of a requester's send"),
    "message_quotas": _requester("a requester's daily send quotas"),
    # webhooks
    "webhook_subscriptions": _requester("a requester's subscriptions"),
    "webhook_deliveries": _local(
        "the delivery log, written by the outbox worker (itself local) and read one subscription"
        " at a time after its requester was checked; no requester_id column to distribute it by"
    ),
    # the machinery
    "jobs": _local("the job queue: workers claim across requesters with FOR UPDATE SKIP LOCKED"),
    "outbox": _local("e-mails and webhook events to send: claimed across requesters by the workers"),
    "server_secrets": _reference("the installation's random keys, the same on every node"),
    "alembic_version": _local("the schema's revision, read and written by migrations only"),
}


def placement(table: str) -> Placement:
    return PLACEMENTS[table]


def distributed_tables() -> dict[str, str]:
    """Every distributed table and its distribution column."""
    return {name: p.column for name, p in PLACEMENTS.items() if p.column is not None}
