"""Toloker ids are no oracle: a requester cannot tell an unknown id from another requester's Toloker.

Before, `PUT /api/v1/user-restrictions` and `PUT /api/v1/user-skills` answered 400 "no such
Toloker" for an id nobody has and 200/201 for a Toloker who never worked for the caller, so
any requester could probe which ids exist. Now both are the same 400 (status, code, message,
params), as bonuses answer: only Tolokers who started one of your tasks can be banned or
given a skill value. A Toloker who did work for you is the control.
"""

from __future__ import annotations

from typing import Any

import httpx

from crowdpost.db import Database
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import crew


def answer(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    """Everything a caller sees except the per-request id."""
    body = dict(response.json())
    body.pop("request_id")
    return response.status_code, body


def _people(admin: Admin, db: Database, requester: RequesterInfo) -> tuple[str, str, str, str]:
    """(one of ours, another requester's worker, a Toloker nobody knows, an id that is no one)
    with every Toloker's id of the same shape."""
    _, _, (ours,) = crew(db, admin, requester.id, [{}])
    other = admin.create_requester()
    _, _, (theirs,) = crew(db, admin, other.id, [{}])
    idle = admin.create_toloker()
    return ours, theirs, idle, "f" * len(ours)


def test_bans_answer_the_same_for_unknown_and_foreign_tolokers(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    """PUT /user-restrictions for another requester's worker, a Toloker who worked for
    nobody and an id that does not exist: identical 400s naming `user_id`, nothing banned;
    our own worker is banned (201)."""
    ours, theirs, idle, nobody = _people(admin, db, requester)

    def ban(user_id: str) -> httpx.Response:
        return requester_http.put("/api/v1/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": user_id})

    answers = {who: answer(ban(uid)) for who, uid in (("theirs", theirs), ("idle", idle), ("nobody", nobody))}

    status, body = answers["nobody"]
    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert list(body["payload"]) == ["user_id"]
    assert body["payload"]["user_id"]["code"] == "ENTITY_DOES_NOT_EXIST"
    for who, uid in (("theirs", theirs), ("idle", idle)):
        # The same answer, with only the id the caller sent echoed back.
        assert answers[who] == (status, _with_id(body, uid)), who
    assert [r["user_id"] for r in requester_http.get("/api/v1/user-restrictions").json()["items"]] == []
    assert ban(ours).status_code == 201


def test_skill_values_answer_the_same_for_unknown_and_foreign_tolokers(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    """PUT /user-skills for another requester's worker, a Toloker who worked for nobody and
    an id that does not exist: identical 400s naming `user_id`, no value stored; our own
    worker gets the value."""
    ours, theirs, idle, nobody = _people(admin, db, requester)
    skill = requester_http.post("/api/v1/skills", json={"name": "Accuracy"}).json()["id"]

    def set_value(user_id: str) -> httpx.Response:
        return requester_http.put("/api/v1/user-skills", json={"skill_id": skill, "user_id": user_id, "value": 80})

    answers = {who: answer(set_value(uid)) for who, uid in (("theirs", theirs), ("idle", idle), ("nobody", nobody))}

    status, body = answers["nobody"]
    assert status == 400
    assert list(body["payload"]) == ["user_id"]
    assert body["payload"]["user_id"]["code"] == "ENTITY_DOES_NOT_EXIST"
    for who, uid in (("theirs", theirs), ("idle", idle)):
        assert answers[who] == (status, _with_id(body, uid)), who
    assert requester_http.get("/api/v1/user-skills").json()["items"] == []
    assert set_value(ours).status_code == 200


def _with_id(body: dict[str, Any], user_id: str) -> dict[str, Any]:
    error = body["payload"]["user_id"]
    return {**body, "payload": {"user_id": {**error, "params": [user_id]}}}
