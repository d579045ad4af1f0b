"""The requester API's extensions: dedupe, search, filters, counts, dry run, policy, isolation."""

from __future__ import annotations

import httpx

from crowdpost.db import Database
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import compose_body, crew, toloker_client

COMPOSE = "/api/v1/message-threads/compose"
THREADS = "/api/v1/message-threads"


def _compose(client: httpx.Client, body: dict[str, object], **params: str) -> httpx.Response:
    return client.post(COMPOSE, json=body, params=params)


def test_identical_compose_within_a_minute_returns_the_first_thread(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    body = compose_body(recipients_ids=[worker])

    first = _compose(requester_http, body)
    retry = _compose(requester_http, body)
    other = _compose(requester_http, {**body, "text": {"EN": "something else"}})
    reply_1 = requester_http.post(f"{THREADS}/{first.json()['id']}/reply", json={"text": {"EN": "r"}})
    reply_2 = requester_http.post(f"{THREADS}/{first.json()['id']}/reply", json={"text": {"EN": "r"}})

    assert first.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    assert len(reply_1.json()["messages"]) == 2
    assert len(reply_2.json()["messages"]) == 2
    listed = requester_http.get(THREADS).json()["items"]
    assert len(listed) == 2


def test_search_by_keyword_phrase_and_toloker(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (alice, bob) = crew(db, admin, requester.id, [{}, {}])
    a = _compose(
        requester_http,
        compose_body(
            topic={"EN": "Bounding boxes"},
            text={"EN": "Draw tight boxes", "RU": "Рисуйте рамки"},
            recipients_ids=[alice],
        ),
    ).json()
    b = _compose(
        requester_http,
        compose_body(topic={"EN": "Audio"}, text={"EN": "boxes are not tight here"}, recipients_ids=[bob]),
    ).json()
    # Another requester's thread with the same words must never show up.
    other = admin.create_requester()
    _, _, (carol,) = crew(db, admin, other.id, [{}])
    with httpx.Client(base_url=str(requester_http.base_url), headers={"Authorization": f"OAuth {other.token}"}) as c:
        assert _compose(c, compose_body(text={"EN": "tight boxes"}, recipients_ids=[carol])).status_code == 201

    def ids(**params: str) -> list[str]:
        response = requester_http.get(THREADS, params=params)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert ids(q="boxes") == [a["id"], b["id"]]
    assert ids(q='"tight boxes"') == [a["id"]]
    assert ids(q="рамки") == [a["id"]]
    assert ids(q="bounding") == [a["id"]]
    assert ids(q="nothing-like-this") == []
    assert ids(q='"boxes* -tight(') == [a["id"], b["id"]]  # FTS syntax is never interpreted
    assert ids(user_id=bob) == [b["id"]]
    assert ids(user_id=carol) == []
    assert ids(q="boxes", user_id=alice, sort="-id") == [a["id"]]
    assert requester_http.get(THREADS, params={"q": "  "}).status_code == 400


def test_get_counts_mark_all_read_and_isolation(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    sent = _compose(requester_http, compose_body(recipients_ids=[worker])).json()
    with toloker_client(server_url, admin, worker) as toloker:
        toloker.post(f"/message-threads/{sent['id']}/reply", json={"text": {"EN": "question 1"}})
    sent_2 = _compose(requester_http, compose_body(text={"EN": "second"}, recipients_ids=[worker])).json()
    with toloker_client(server_url, admin, worker) as toloker:
        toloker.post(f"/message-threads/{sent_2['id']}/reply", json={"text": {"EN": "question 2"}})

    counts = requester_http.get(f"{THREADS}/counts").json()
    users_tab = requester_http.get(THREADS, params={"interlocutor_role": "USER", "folder": "INBOX"}).json()
    admin_tab = requester_http.get(THREADS, params={"interlocutor_role": "ADMINISTRATOR"}).json()
    one = requester_http.get(f"{THREADS}/{sent['id']}")
    marked = requester_http.post(f"{THREADS}/mark-all-read", json={"folder": "INBOX"})
    after = requester_http.get(f"{THREADS}/counts").json()

    assert counts["total"] == 4
    assert counts["folders"]["INBOX"] == {"total": 2, "unread": 2}
    assert counts["folders"]["OUTBOX"] == {"total": 2, "unread": 0}
    assert len(users_tab["items"]) == 2
    assert admin_tab["items"] == []
    assert one.json()["id"] == sent["id"]
    assert marked.json() == {"marked_read": 2}
    assert after["unread"] == 0
    stranger = admin.create_requester()
    headers = {"Authorization": f"OAuth {stranger.token}"}
    assert httpx.get(f"{server_url}{THREADS}/{sent['id']}", headers=headers).status_code == 404
    assert (
        httpx.post(f"{server_url}{THREADS}/{sent['id']}/reply", json={"text": {"EN": "x"}}, headers=headers).status_code
        == 404
    )
    assert (
        httpx.post(
            f"{server_url}{THREADS}/{sent['id']}/add-to-folders", json={"folders": ["IMPORTANT"]}, headers=headers
        ).status_code
        == 404
    )
    assert httpx.get(f"{server_url}{THREADS}", headers=headers).json()["items"] == []
    assert requester_http.get(f"{THREADS}/not-an-id").status_code == 404


def test_dry_run_counts_and_sends_nothing(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker, _newbie) = crew(db, admin, requester.id, [{}, {}], started=1)
    stranger = admin.create_toloker()

    direct = _compose(
        requester_http,
        compose_body(recipients_ids=[worker, stranger], text={"EN": "mail me at a@b.com"}),
        dry_run="true",
    )
    everyone = _compose(requester_http, compose_body("ALL"), dry_run="true")

    assert direct.status_code == 200
    assert direct.json()["recipients_count"] == 1
    assert direct.json()["excluded"]["unknown_ids"] == [stranger]
    assert [w["code"] for w in direct.json()["policy_warnings"]] == ["CONTACT_DETAILS"]
    assert everyone.json()["recipients_count"] == 0  # ALL needs two started tasks
    assert requester_http.get(THREADS).json()["items"] == []


def test_policy_warnings_strict_mode_and_sanitized_storage(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    risky = (
        '<p onclick="steal()">Join our telegram @bestjobs or call +1 415 555 0100, '
        "see http://example.com/requester/project/42 <script>alert(1)</script>"
        '<img src="data:image/png;base64,AAAA"><iframe src="https://x"></iframe></p>'
    )

    strict = _compose(requester_http, compose_body(recipients_ids=[worker], text={"EN": risky}), strict="true")
    lenient = _compose(requester_http, compose_body(recipients_ids=[worker], text={"EN": risky}))
    good_link = _compose(
        requester_http,
        compose_body(recipients_ids=[worker], text={"EN": "New pool: https://127.0.0.1:8000/tasks?projectId=42"}),
    )

    assert strict.status_code == 400
    assert strict.json()["code"] == "VALIDATION_ERROR"
    assert "text.EN" in strict.json()["payload"]
    codes = {w["code"] for w in lenient.json()["policy_warnings"]}
    assert codes == {"CONTACT_DETAILS", "PROJECT_LINK", "ATTACHMENT", "UNSUPPORTED_HTML"}
    stored = lenient.json()["messages"][0]["text"]["EN"]
    assert "script" not in stored
    assert "onclick" not in stored
    assert "iframe" not in stored
    assert "data:" not in stored
    assert stored.startswith("<p>Join our telegram")
    assert good_link.json()["policy_warnings"] == []
    with toloker_client(server_url, admin, worker) as toloker:
        seen = toloker.get(f"/message-threads/{lenient.json()['id']}").json()
    assert "<script" not in seen["messages"][0]["text"]["EN"]


def test_banned_tolokers_never_receive(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    from crowdpost.kit.timefmt import utcnow
    from crowdpost.models import UserRestriction

    _, _, (good, banned) = crew(db, admin, requester.id, [{}, {}])
    with db.transaction() as session:
        session.add(
            UserRestriction(requester_id=int(requester.id), user_id=banned, scope="ALL_PROJECTS", created=utcnow())
        )

    direct = _compose(requester_http, compose_body(recipients_ids=[good, banned]))
    everyone = _compose(requester_http, compose_body("ALL", text={"EN": "all"}))
    only_banned = _compose(requester_http, compose_body(recipients_ids=[banned], text={"EN": "x"}))

    assert direct.json()["delivery"] == {"delivered": 1, "banned": 1, "unknown": 0}
    assert [i["id"] for i in direct.json()["interlocutors"]] == sorted([requester.id, good])
    assert everyone.json()["delivery"] == {"delivered": 1, "banned": 1, "unknown": 0}
    assert only_banned.status_code == 400
    with toloker_client(server_url, admin, banned) as toloker:
        assert toloker.get("/message-threads").json()["items"] == []
