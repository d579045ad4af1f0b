"""`GET /operations/{id}/log` streams a plain JSON array, chunk by chunk (issue 19)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from toloka.client import TolokaClient

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.ids import format_id
from crowdpost.models import Bonus
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin
from tests.fixtures.live_server import serve_in_thread
from tests.rewards.helpers import auth_client, bonus, make_crew, post_bonuses

ITEMS = 3000


def test_large_operation_log_streams_every_entry(db: Database, settings: Settings) -> None:
    """A 3,000-item operation paid in chunks of 700, every 250th item invalid: the log comes
    as a chunked stream (no Content-Length), holds one entry per item in input order with
    the right bonus id or error, and toloka-kit's get_operation_log reads it."""
    small = settings.model_copy(update={"worker_chunk_size": 700})
    with serve_in_thread(create_app(small, db)) as url:
        admin = Admin(url)
        requester = admin.create_requester(balance="1000")
        crew = make_crew(db, admin, requester)
        admin.close()
        items = [
            bonus(
                crew.user_ids[n % 3],
                "0.0001" if n % 250 == 7 else "0.01",
                private_comment=f"n{n}",
                __item_idx=str(n),
            )
            for n in range(ITEMS)
        ]
        with auth_client(url, requester.token) as client:
            response = post_bonuses(client, items, async_mode=True, operation_id="op-big", skip_invalid_items=True)
            assert response.status_code == 202, response.text
            run_pending(db)
            with client.stream("GET", "/api/v1/operations/op-big/log") as streamed:
                headers = streamed.headers
                body = b"".join(streamed.iter_bytes())
            missing = client.get("/api/v1/operations/no-such-op/log")
            entries = client.get("/api/v1/operations/op-big/log").json()
        kit_log = TolokaClient(requester.token, url=url, retries=0).get_operation_log("op-big")

    assert streamed.status_code == 200
    assert "content-length" not in headers
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-type"].startswith("application/json")
    assert body.startswith(b"[{")
    assert body.endswith(b"}]")
    assert missing.status_code == 404
    assert missing.json()["code"] == "DOES_NOT_EXIST"

    with db.transaction(write=False) as session:
        paid: dict[int, int] = {}
        for idx, bonus_id in session.execute(select(Bonus.item_idx, Bonus.id)):
            assert idx is not None
            paid[int(idx)] = int(bonus_id)
    invalid = {n for n in range(ITEMS) if n % 250 == 7}
    assert len(paid) == ITEMS - len(invalid)
    assert len(entries) == ITEMS
    assert [entry["input"]["__item_idx"] for entry in entries] == [str(n) for n in range(ITEMS)]
    for n, entry in enumerate(entries):
        assert entry["input"]["private_comment"] == f"n{n}"
        if n in invalid:
            assert entry == {
                "type": "USER_BONUS_VALIDATE",
                "success": False,
                "input": items[n] | {"amount": 0.0001},
                "output": {"amount": entry["output"]["amount"]},
            }
            assert entry["output"]["amount"]["code"] == "VALUE_LESS_THAN_MIN"
        else:
            assert entry["type"] == "USER_BONUS_PERSIST"
            assert entry["success"] is True
            assert entry["output"] == {"user_bonus_id": format_id(paid[n])}

    assert len(kit_log) == ITEMS
    assert [entry.success for entry in kit_log] == [n not in invalid for n in range(ITEMS)]
    assert kit_log[0].input is not None
    assert kit_log[7].output is not None
    assert kit_log[0].input["amount"] == Decimal("0.01")
    assert kit_log[7].output["amount"]["code"] == "VALUE_LESS_THAN_MIN"
    assert kit_log[ITEMS - 1].output == {"user_bonus_id": format_id(paid[ITEMS - 1])}
