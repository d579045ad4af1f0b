"""`GET /operations...`: filters, paging in byte order of client ids, and per-requester isolation."""

from __future__ import annotations

import httpx

from crowdpost.db import Database
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin, RequesterInfo
from tests.rewards.helpers import auth_client, bonus, make_crew, post_bonuses


def test_list_filters_and_pages_in_id_order(db: Database, admin: Admin, server_url: str) -> None:
    requester = admin.create_requester(balance="100")
    crew = make_crew(db, admin, requester, size=1)
    # Client ids in an order where byte order differs from a natural-language collation.
    ids = ["a-1", "B-2", "_3", "b", "A", "0-z"]
    with auth_client(server_url, requester.token) as client:
        for n, operation_id in enumerate(ids):
            response = post_bonuses(
                client,
                bonus(crew.user_ids[0], "0.01", private_comment=str(n)),
                async_mode=True,
                operation_id=operation_id,
            )
            assert response.status_code == 202, response.text
            if n == 2:
                run_pending(db)  # the first three finish, the others stay pending
        paged: list[str] = []
        after = None
        while True:
            params: dict[str, str | int] = {"sort": "id", "limit": 2, **({"id_gt": after} if after else {})}
            page = client.get("/api/v1/operations", params=params).json()
            paged += [op["id"] for op in page["items"]]
            if not page["has_more"]:
                break
            after = page["items"][-1]["id"]
        pending = client.get("/api/v1/operations", params={"status": "PENDING"}).json()
        finished = client.get(
            "/api/v1/operations", params={"finished_gte": "2000-01-01T00:00:00", "type": "USER_BONUS.BATCH_CREATE"}
        ).json()
        other_type = client.get("/api/v1/operations", params={"type": "POOL.OPEN"}).json()
        future = client.get("/api/v1/operations", params={"submitted_gt": "2999-01-01T00:00:00"}).json()
        newest_first = client.get("/api/v1/operations", params={"sort": "-submitted,id"}).json()
        bad_sort = client.get("/api/v1/operations", params={"sort": "type"})

    assert paged == sorted(ids, key=lambda s: s.encode())
    assert sorted(op["id"] for op in pending["items"]) == sorted(ids[3:])
    assert sorted(op["id"] for op in finished["items"]) == sorted(ids[:3])
    assert other_type["items"] == []
    assert future == {"items": [], "has_more": False}
    assert len(newest_first["items"]) == 6
    assert bad_sort.status_code == 400


def test_operations_and_bonuses_are_private_to_their_requester(
    db: Database, admin: Admin, server_url: str, requester: RequesterInfo
) -> None:
    crew = make_crew(db, admin, requester, size=1)
    intruder = admin.create_requester(balance="100")
    with auth_client(server_url, requester.token) as owner, auth_client(server_url, intruder.token) as other:
        paid = post_bonuses(owner, bonus(crew.user_ids[0], "1")).json()
        post_bonuses(owner, [bonus(crew.user_ids[0], "2")], async_mode=True, operation_id="shared-name")
        run_pending(db)
        # The same client id in another account is another operation.
        theirs = post_bonuses(other, [bonus(crew.user_ids[0], "2")], async_mode=True, operation_id="shared-name")
        run_pending(db)

        assert other.get(f"/api/v1/user-bonuses/{paid['id']}").status_code == 404
        assert other.get("/api/v1/user-bonuses").json()["items"] == []
        assert other.get("/api/v1/operations/shared-name").json()["status"] == "FAIL"  # not their Toloker
        assert other.get("/api/v1/operations/shared-name/log").json()[0]["success"] is False
        assert owner.get("/api/v1/operations/shared-name").json()["status"] == "SUCCESS"
        assert other.get("/api/v1/operations/nope").status_code == 404
        assert other.get("/api/v1/operations/nope/log").json()["code"] == "DOES_NOT_EXIST"
        assert owner.get("/api/v1/user-bonuses/not-an-id").status_code == 404
        listed = owner.get("/api/v1/user-bonuses", params={"user_id": crew.user_ids[0]}).json()
        by_assignment = owner.get("/api/v1/user-bonuses", params={"assignment_id": "junk"}).json()

    assert theirs.status_code == 202
    assert [b["amount"] for b in listed["items"]] == [1, 2]
    assert by_assignment["items"] == []


def test_unauthenticated_and_toloker_tokens_are_refused(server_url: str, admin: Admin) -> None:
    toloker_token = admin.toloker_token(admin.create_toloker())

    anonymous = httpx.get(f"{server_url}/api/v1/operations")
    as_toloker = httpx.get(f"{server_url}/api/v1/operations", headers={"Authorization": f"OAuth {toloker_token}"})

    assert anonymous.status_code == 401
    assert as_toloker.status_code == 403
