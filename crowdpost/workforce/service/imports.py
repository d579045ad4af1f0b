"""Tolokers and their assignments, fed in by operators. No HTTP, no commit."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.events import AssignmentsImported, publish
from crowdpost.kit.bulk import add_item_errors
from crowdpost.kit.ids import parse_id
from crowdpost.kit.language_list import language_list
from crowdpost.kit.money import to_micros
from crowdpost.kit.timefmt import to_naive_utc, utcnow
from crowdpost.workforce.repository import tolokers as repository
from crowdpost.workforce.schemas import AssignmentIn, TolokerIn, Version
from crowdpost.workforce.spec import plain_json


def new_toloker_id() -> str:
    """32 hex digits like Toloka's, time-ordered so text order is creation order."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def _profile_row(item: TolokerIn, toloker_id: str, now: datetime) -> dict[str, Any]:
    row = item.model_dump(exclude={"id", "languages", "os_version", "user_agent_version"})
    row["id"] = toloker_id
    row["language_list"] = language_list(item.languages)
    row["created"] = now
    for field in ("os_version", "user_agent_version"):
        raw = getattr(item, field)
        version = Version.parse(raw) if raw is not None else None
        row[field] = version.value if version else None
        row[f"{field}_major"] = version.major if version else None
        row[f"{field}_minor"] = version.minor if version else None
        row[f"{field}_bugfix"] = version.bugfix if version else None
    return row


def do_import_tolokers(session: Session, items: Sequence[TolokerIn]) -> list[dict[str, Any]]:
    """Insert or update Tolokers (profile and languages) in one statement per table."""
    errors: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.id is not None:
            if item.id in seen:
                add_item_errors(
                    errors,
                    index,
                    "id",
                    field_error("DUPLICATE_VALUE_IN_ARRAY", f"id repeats item {seen[item.id]}"),
                )
            seen[item.id] = index
    if errors:
        raise ValidationFailed(errors, "duplicate ids in the list; nothing was written")

    now = utcnow()
    rows = [_profile_row(item, item.id or new_toloker_id(), now) for item in items]
    repository.upsert_tolokers(session, rows)
    ids = [row["id"] for row in rows]
    languages = [
        {"user_id": row["id"], "language": lang}
        for row, item in zip(rows, items, strict=True)
        for lang in item.languages
    ]
    repository.replace_languages(session, ids, languages)
    created = repository.created_times(session, ids)
    return [
        {
            "id": row["id"],
            "languages": item.languages,
            "country": item.country,
            "created": created[row["id"]],
        }
        for row, item in zip(rows, items, strict=True)
    ]


def do_import_assignments(session: Session, items: Sequence[AssignmentIn]) -> list[dict[str, Any]]:
    """Record assignments and bump each Toloker's per-requester started count."""
    pool_numbers = {item.pool_id: parse_id(item.pool_id) for item in items}
    pools = repository.pools_by_id(session, {n for n in pool_numbers.values() if n is not None})
    known_users = repository.existing_tolokers(session, {item.user_id for item in items})
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        number = pool_numbers[item.pool_id]
        if number is None or number not in pools:
            add_item_errors(
                errors,
                index,
                "pool_id",
                field_error("ENTITY_DOES_NOT_EXIST", "no such pool", item.pool_id),
            )
        if item.user_id not in known_users:
            add_item_errors(
                errors,
                index,
                "user_id",
                field_error("ENTITY_DOES_NOT_EXIST", "no such Toloker", item.user_id),
            )
    if errors:
        raise ValidationFailed(errors, f"{len(errors)} of {len(items)} items are invalid; nothing was written")

    now = utcnow()
    rows = []
    for item in items:
        pool_id = pool_numbers[item.pool_id]
        assert pool_id is not None
        requester_id, project_id = pools[pool_id]
        rows.append(
            {
                "requester_id": requester_id,
                "project_id": project_id,
                "pool_id": pool_id,
                "user_id": item.user_id,
                "task_suite_id": item.task_suite_id,
                "status": item.status.value,
                "reward_micros": to_micros(item.reward) if item.reward is not None else 0,
                "public_comment": item.public_comment,
                "created": to_naive_utc(item.created) if item.created else now,
                "submitted": to_naive_utc(item.submitted) if item.submitted else None,
                "accepted": to_naive_utc(item.accepted) if item.accepted else None,
                "rejected": to_naive_utc(item.rejected) if item.rejected else None,
                "solutions": plain_json([s.model_dump() for s in item.solutions]) if item.solutions else None,
            }
        )
    assignment_ids = repository.insert_assignments(session, rows)
    repository.bump_started_counts(session, rows)
    if assignment_ids:
        publish(session, AssignmentsImported(min(assignment_ids), max(assignment_ids)))
    return [
        {
            "id": aid,
            "user_id": row["user_id"],
            "pool_id": row["pool_id"],
            "status": row["status"],
            "created": row["created"],
        }
        for aid, row in zip(assignment_ids, rows, strict=True)
    ]
