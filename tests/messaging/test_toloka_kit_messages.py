"""The real toloka-kit 1.2.3 (sync and async clients) against crowdpost's message threads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import toloka.client.filter as f
from toloka.async_client import AsyncTolokaClient
from toloka.client import TolokaClient
from toloka.client.exceptions import DoesNotExistApiError, IncorrectActionsApiError, ValidationApiError
from toloka.client.message_thread import Folder, MessageThreadReply, RecipientsSelectType

from crowdpost.db import Database
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import crew, toloker_client


def test_compose_direct_returns_outbox_thread_with_compose_details(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (alice, bob) = crew(db, admin, requester.id, [{}, {}])
    client = TolokaClient(requester.token, url=server_url, retries=0)

    thread = client.compose_message_thread(
        recipients_select_type=RecipientsSelectType.DIRECT,
        topic={"EN": "Instructions changed", "RU": "Инструкция"},
        text={"EN": "Please <b>re-read</b> them"},
        answerable=True,
        recipients_ids=[alice, bob],
    )

    assert thread.id is not None
    assert thread.compose_details is not None
    assert thread.messages is not None
    assert thread.messages[0].from_ is not None
    assert thread.interlocutors is not None
    assert thread.created is not None
    assert len(thread.id) == 12
    assert thread.topic == {"EN": "Instructions changed", "RU": "Инструкция"}
    assert thread.folders == [Folder.OUTBOX]
    assert thread.answerable is True
    assert thread.compose_details.recipients_select_type == RecipientsSelectType.DIRECT
    assert thread.compose_details.recipients_ids == [alice, bob]
    assert [m.text for m in thread.messages] == [{"EN": "Please <b>re-read</b> them"}]
    assert thread.messages[0].from_.id == requester.id
    assert thread.messages[0].from_.myself is True
    ids = [i.id for i in thread.interlocutors]
    assert ids == sorted(ids)  # type: ignore[type-var]  # toloka-kit declares every id Optional
    assert set(ids) == {requester.id, alice, bob}
    assert thread.created.tzinfo is not None
    assert abs(datetime.now(UTC) - thread.created) < timedelta(minutes=5)


def test_compose_filter_with_nested_filters_and_all(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    crew(
        db,
        admin,
        requester.id,
        [
            {"country": "GB", "languages": ["EN"]},
            {"country": "DE", "languages": ["DE"]},
            {"country": "GB", "languages": ["DE"]},
        ],
    )
    client = TolokaClient(requester.token, url=server_url, retries=0)

    filtered = client.compose_message_thread(
        recipients_select_type=RecipientsSelectType.FILTER,
        topic={"EN": "For English speakers in GB"},
        text={"EN": "hello"},
        answerable=False,
        recipients_filter=(f.Country == "GB") & (f.Languages.in_("EN") | (f.Languages.in_("FR"))),
    )
    everyone = client.compose_message_thread(
        recipients_select_type=RecipientsSelectType.ALL, topic={"EN": "News"}, text={"EN": "to all"}
    )

    assert filtered.compose_details is not None
    assert filtered._unexpected is not None
    assert everyone.compose_details is not None
    assert everyone._unexpected is not None
    assert filtered.compose_details.recipients_select_type == RecipientsSelectType.FILTER
    assert filtered.compose_details.recipients_filter is not None
    assert filtered._unexpected["delivery"]["delivered"] == 1
    assert everyone.compose_details.recipients_select_type == RecipientsSelectType.ALL
    assert everyone._unexpected["delivery"]["delivered"] == 3
    assert everyone.interlocutors_inlined is False


def test_compose_errors_map_to_toloka_exceptions(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    crew(db, admin, requester.id, [{}])
    stranger = admin.create_toloker()
    client = TolokaClient(requester.token, url=server_url, retries=0)

    # Nobody to receive it: the stranger never worked for this requester (with a Toloker who
    # did, the send goes out and the stranger's outcome says LEFT_OUT_NOT_YOURS).
    with pytest.raises(ValidationApiError) as unknown:
        client.compose_message_thread(
            recipients_select_type="DIRECT", topic={"EN": "t"}, text={"EN": "x"}, recipients_ids=[stranger]
        )
    with pytest.raises(ValidationApiError) as too_many:
        client.compose_message_thread(
            recipients_select_type="DIRECT",
            topic={"EN": "t"},
            text={"EN": "x"},
            recipients_ids=[f"u{i}" for i in range(101)],
        )
    with pytest.raises(ValidationApiError) as nobody:
        client.compose_message_thread(
            recipients_select_type="FILTER", topic={"EN": "t"}, text={"EN": "x"}, recipients_filter=f.Country == "FR"
        )

    assert unknown.value.message is not None
    # toloka-kit's exceptions.pyi omits the invalid_fields property that exceptions.py defines.
    assert "recipients" in unknown.value.invalid_fields  # type: ignore[attr-defined]
    assert "recipients_ids" in too_many.value.invalid_fields  # type: ignore[attr-defined]
    assert "recipients" in nobody.value.invalid_fields  # type: ignore[attr-defined]
    assert client.find_message_threads().items == []


def test_every_thread_parses_with_outcome_counts_present(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    """toloka-kit 1.2.3 parses sent threads carrying the `outcomes` block (kept aside in
    `_unexpected`, as `delivery`) and the conversation a Toloker's reply made, in one listing."""
    _, _, (alice, bob) = crew(db, admin, requester.id, [{"country": "FR"}, {}])
    stranger = admin.create_toloker()
    client = TolokaClient(requester.token, url=server_url, retries=0)
    direct = client.compose_message_thread(
        recipients_select_type="DIRECT",
        topic={"EN": "t"},
        text={"EN": "x"},
        answerable=True,
        recipients_ids=[alice, bob, stranger, "ghost"],
    )
    client.compose_message_thread(
        recipients_select_type="FILTER", topic={"EN": "t"}, text={"EN": "fr"}, recipients_filter=f.Country == "FR"
    )
    client.compose_message_thread(recipients_select_type="ALL", topic={"EN": "t"}, text={"EN": "all"})
    assert direct.id is not None
    with toloker_client(server_url, admin, bob) as toloker:
        assert toloker.post(f"/message-threads/{direct.id}/reply", json={"text": {"EN": "ok"}}).status_code == 201

    found = client.find_message_threads(limit=2)
    every = list(client.get_message_threads(batch_size=1))
    sent = list(client.get_message_threads(folder=Folder.OUTBOX))
    received = client.find_message_threads(folder=Folder.INBOX).items

    assert found.has_more is True
    assert len(every) == 4
    assert len(sent) == 3
    assert [t.compose_details is not None for t in every].count(True) == 3
    for thread in sent:
        assert thread._unexpected is not None
        assert thread._unexpected["outcomes"]["DELIVERED"] == thread._unexpected["delivery"]["delivered"]
    outcomes = {t.id: t._unexpected["outcomes"] for t in sent if t._unexpected is not None}
    assert outcomes[direct.id] == {
        "DELIVERED": 2,
        "LEFT_OUT_BANNED": 0,
        "LEFT_OUT_UNKNOWN": 1,
        "LEFT_OUT_NOT_YOURS": 1,
        "LEFT_OUT_CAPPED": 0,
    }
    assert received is not None
    assert [t.parent_id for t in received] == [direct.id]
    assert received[0].messages is not None
    assert received[0].messages[0].text == {"EN": "ok"}


def test_find_and_get_message_threads_with_every_filter(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    client = TolokaClient(requester.token, url=server_url, retries=0)
    made = [
        client.compose_message_thread(
            recipients_select_type="DIRECT", topic={"EN": f"t{i}"}, text={"EN": f"text {i}"}, recipients_ids=[worker]
        )
        for i in range(5)
    ]
    assert made[1].id is not None
    assert made[0].created is not None
    client.add_message_thread_to_folders(made[1].id, [Folder.IMPORTANT, Folder.UNREAD])

    all_threads = list(client.get_message_threads(folder=[Folder.OUTBOX], batch_size=2))
    important = client.find_message_threads(folder=[Folder.OUTBOX, Folder.IMPORTANT])
    not_important = client.find_message_threads(  # type: ignore[call-overload]  # sort: a str, sent as-is
        folder_ne=[Folder.IMPORTANT, Folder.INBOX], sort="-id", limit=10
    )
    after = client.find_message_threads(id_gt=made[2].id, id_lte=made[3].id)
    created = client.find_message_threads(  # type: ignore[call-overload]  # sort: a str, sent as-is
        created_gte=made[0].created - timedelta(seconds=1),
        created_lt=made[0].created + timedelta(days=1),
        sort="-created",
    )
    paged = client.find_message_threads(limit=2)

    assert [t.id for t in all_threads] == [t.id for t in made]
    assert important.items is not None
    assert not_important.items is not None
    assert after.items is not None
    assert created.items is not None
    assert paged.items is not None
    assert important.items[0].folders is not None
    assert [t.id for t in important.items] == [made[1].id]
    assert set(important.items[0].folders) == {Folder.OUTBOX, Folder.IMPORTANT, Folder.UNREAD}
    assert [t.id for t in not_important.items] == [made[4].id, made[3].id, made[2].id, made[0].id]
    assert [t.id for t in after.items] == [made[3].id]
    assert len(created.items) == 5
    assert paged.has_more is True
    assert len(paged.items) == 2


def test_reply_and_folders(server_url: str, admin: Admin, db: Database, requester: RequesterInfo) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    client = TolokaClient(requester.token, url=server_url, retries=0)
    thread = client.compose_message_thread(
        recipients_select_type="DIRECT", topic={"EN": "t"}, text={"EN": "first"}, recipients_ids=[worker]
    )

    assert thread.id is not None
    replied = client.reply_message_thread(thread.id, MessageThreadReply(text={"EN": "second"}))
    added = client.add_message_thread_to_folders(thread.id, [Folder.IMPORTANT])
    removed = client.remove_message_thread_from_folders(thread.id, [Folder.IMPORTANT])

    assert replied.messages is not None
    assert replied.messages[0].created is not None
    assert replied.messages[1].created is not None
    assert added.folders is not None
    assert [m.text["EN"] for m in replied.messages] == ["second", "first"]  # type: ignore[index]  # text is Optional
    assert replied.messages[0].created >= replied.messages[1].created
    assert set(added.folders) == {Folder.OUTBOX, Folder.IMPORTANT}
    assert removed.folders == [Folder.OUTBOX]
    with pytest.raises(DoesNotExistApiError):
        client.reply_message_thread("999999999999", MessageThreadReply(text={"EN": "x"}))
    with pytest.raises(ValidationApiError):
        client.add_message_thread_to_folders(thread.id, [Folder.INBOX])


def test_async_client_compose_find_reply_folders(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])

    async def scenario() -> tuple[object, ...]:
        client = AsyncTolokaClient(requester.token, url=server_url, retries=0)
        thread = await client.compose_message_thread(
            recipients_select_type="DIRECT", topic={"EN": "async"}, text={"EN": "hi"}, recipients_ids=[worker]
        )
        second = await client.compose_message_thread(
            recipients_select_type="FILTER",
            topic={"EN": "async 2"},
            text={"EN": "hi"},
            recipients_filter=f.FilterOr([f.Country == "GB"]),
        )
        assert thread.id is not None
        replied = await client.reply_message_thread(thread.id, MessageThreadReply(text={"EN": "again"}))
        added = await client.add_message_thread_to_folders(thread.id, [Folder.UNREAD])
        removed = await client.remove_message_thread_from_folders(thread.id, [Folder.UNREAD])
        found = await client.find_message_threads(  # type: ignore[call-overload]  # sort: a str, sent as-is
            folder=[Folder.OUTBOX], sort="id"
        )
        listed = [t async for t in client.get_message_threads(batch_size=1)]
        return thread, second, replied, added, removed, found, listed

    thread, second, replied, added, removed, found, listed = asyncio.run(scenario())

    assert len(replied.messages) == 2  # type: ignore[attr-defined]
    assert Folder.UNREAD in added.folders  # type: ignore[attr-defined]
    assert Folder.UNREAD not in removed.folders  # type: ignore[attr-defined]
    assert [t.id for t in found.items] == [thread.id, second.id]  # type: ignore[attr-defined]
    assert [t.id for t in listed] == [thread.id, second.id]  # type: ignore[attr-defined]


def test_quota_error_is_too_many_requests_without_retry_after(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    crew(db, admin, requester.id, [{}])
    client = TolokaClient(requester.token, url=server_url, retries=0)
    client.compose_message_thread(recipients_select_type="ALL", topic={"EN": "a"}, text={"EN": "1"})

    from toloka.client.exceptions import TooManyRequestsApiError

    with pytest.raises(TooManyRequestsApiError) as caught:
        client.compose_message_thread(recipients_select_type="ALL", topic={"EN": "b"}, text={"EN": "2"})

    assert caught.value.status_code == 429
    assert "retry-after" not in {k.lower() for k in caught.value.response.headers} if caught.value.response else True
    assert not isinstance(caught.value, IncorrectActionsApiError)
