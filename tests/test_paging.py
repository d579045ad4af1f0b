"""One paging pipeline (kit.pagination): every list declares its time ranges in /openapi.json,
parses them as it always did, and pages by `id_gt` to the end without a gap or a repeat."""

from __future__ import annotations

import httpx

RANGE_OPS = ("gt", "gte", "lt", "lte")
# Every list endpoint and the time fields it filters on (`created` comes with the paging).
TIME_RANGES = {
    ("/api/v1/skills", "get"): ["created"],
    ("/api/v1/user-skills", "get"): ["created", "modified"],
    ("/api/v1/user-restrictions", "get"): ["created"],
    ("/api/v1/projects", "get"): ["created"],
    ("/api/v1/pools", "get"): ["created", "last_started"],
    ("/api/v1/assignments", "get"): ["created", "submitted", "accepted", "rejected", "skipped", "expired"],
    ("/api/v1/user-bonuses", "get"): ["created"],
    ("/api/v1/message-threads", "get"): ["created"],
    ("/api/v1/operations", "get"): ["submitted", "finished"],
    ("/api/toloker/v1/bonuses", "get"): ["created"],
    ("/api/toloker/v1/message-threads", "get"): ["created"],
}


def test_every_time_range_is_a_documented_datetime_parameter(http: httpx.Client) -> None:
    """The workforce ranges used to be read from `request.query_params`, invisible to clients."""
    document = http.get("/openapi.json").json()
    for (path, method), fields in TIME_RANGES.items():
        parameters = {p["name"]: p for p in document["paths"][path][method]["parameters"]}
        for name in (f"{field}_{op}" for field in fields for op in RANGE_OPS):
            assert name in parameters, (path, name)
            assert parameters[name]["in"] == "query"
            assert {"type": "string", "format": "date-time"} in parameters[name]["schema"]["anyOf"], (path, name)


def test_time_ranges_keep_their_parser_and_error_bodies(requester_http: httpx.Client) -> None:
    bad = requester_http.get("/api/v1/user-skills", params={"modified_gt": "yesterday"})
    assert bad.status_code == 400, bad.text
    assert bad.json()["payload"] == {
        "modified_gt": {"code": "INVALID_DATE_TIME_SYNTAX", "message": "expected YYYY-MM-DDThh:mm:ss", "params": []}
    }
    # datetime.fromisoformat's forms, stripped, as before.
    for value in ("20240101T000000", " 2024-01-01T00:00:00Z ", "2024-01-01"):
        assert requester_http.get("/api/v1/pools", params={"last_started_gte": value}).status_code == 200, value
    # created_* keep FastAPI's datetime parser and its messages.
    created = requester_http.get("/api/v1/skills", params={"created_gt": "yesterday"})
    assert created.status_code == 400, created.text
    assert created.json()["payload"]["created_gt"]["code"] == "INVALID_DATE_TIME_SYNTAX"
    assert requester_http.get("/api/v1/skills", params={"created_gt": "1700000000"}).status_code == 200
    # So do the operations list's submitted_* and finished_*.
    assert requester_http.get("/api/v1/operations", params={"submitted_gt": "1700000000"}).status_code == 200
    late = requester_http.get("/api/v1/operations", params={"finished_lt": "yesterday"})
    assert late.status_code == 400, late.text
    assert late.json()["payload"]["finished_lt"]["code"] == "INVALID_DATE_TIME_SYNTAX"


def test_a_list_pages_to_its_end_by_id(requester_http: httpx.Client) -> None:
    made = [requester_http.post("/api/v1/skills", json={"name": f"skill {i}"}).json()["id"] for i in range(5)]
    seen: list[str] = []
    bound: dict[str, str] = {}
    while True:
        page = requester_http.get("/api/v1/skills", params={"limit": 2, **bound}).json()
        seen += [item["id"] for item in page["items"]]
        assert len(page["items"]) <= 2
        if not page["has_more"]:
            break
        bound = {"id_gt": seen[-1]}
    assert seen == sorted(made)
    newest_first = requester_http.get("/api/v1/skills", params={"sort": "-created,-id", "limit": 3}).json()
    assert [item["id"] for item in newest_first["items"]] == sorted(made, reverse=True)[:3]
    assert newest_first["has_more"] is True
