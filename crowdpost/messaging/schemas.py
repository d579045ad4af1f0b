"""Wire models: Toloka's MessageThreadViewV1 and its forms, plus crowdpost's extensions."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crowdpost.kit.schemas import LanguageCode, ListPage, WireDateTime

TOPIC_MAX_CHARS = 1000
TEXT_MAX_CHARS = 100_000
MAX_LANGUAGES = 50
DIRECT_MAX_RECIPIENTS = 100

# Every limit on a message's texts lives in the request model, so it holds before any sanitizer
# or policy pattern reads the text: a longer value, more than 50 languages or a key that is not
# a Toloka language code ("EN", "RU", "ZH-HANS") is a 400 VALIDATION_ERROR naming the field
# (`text.EN`, `text`, `topic.en`), and the per-request cost of the checks stays bounded.
TopicMap = Annotated[
    dict[LanguageCode, Annotated[str, StringConstraints(max_length=TOPIC_MAX_CHARS)]],
    Field(min_length=1, max_length=MAX_LANGUAGES, description="Language code -> topic (plain text)"),
]
TextMap = Annotated[
    dict[LanguageCode, Annotated[str, StringConstraints(max_length=TEXT_MAX_CHARS)]],
    Field(min_length=1, max_length=MAX_LANGUAGES, description="Language code -> text (HTML subset)"),
]


class Folder(StrEnum):
    INBOX = "INBOX"
    OUTBOX = "OUTBOX"
    AUTOMATIC_NOTIFICATION = "AUTOMATIC_NOTIFICATION"
    IMPORTANT = "IMPORTANT"
    UNREAD = "UNREAD"


# Folder -> the boolean column on a participant's thread row.
FOLDER_COLUMNS: dict[Folder, str] = {
    Folder.INBOX: "inbox",
    Folder.OUTBOX: "outbox",
    Folder.AUTOMATIC_NOTIFICATION: "notification",
    Folder.IMPORTANT: "important",
    Folder.UNREAD: "unread",
}
# The only folders a participant may put a thread in or take it out of.
USER_FOLDERS = frozenset({Folder.IMPORTANT, Folder.UNREAD})


class SelectType(StrEnum):
    DIRECT = "DIRECT"
    FILTER = "FILTER"
    ALL = "ALL"


class InterlocutorRole(StrEnum):
    USER = "USER"
    REQUESTER = "REQUESTER"
    ADMINISTRATOR = "ADMINISTRATOR"
    SYSTEM = "SYSTEM"


class Outcome(StrEnum):
    """What became of one addressed Toloker of a send (`recipient_outcomes.outcome`)."""

    DELIVERED = "DELIVERED"
    LEFT_OUT_BANNED = "LEFT_OUT_BANNED"  # an active ban by this requester
    LEFT_OUT_UNKNOWN = "LEFT_OUT_UNKNOWN"  # no such Toloker (DIRECT)
    LEFT_OUT_NOT_YOURS = "LEFT_OUT_NOT_YOURS"  # never started this requester's tasks (DIRECT)
    LEFT_OUT_CAPPED = "LEFT_OUT_CAPPED"  # over the bulk cap (FILTER, ALL)


class ThreadKind(StrEnum):
    COMPOSE = "COMPOSE"  # a requester's send to many; recipients each get a row
    CONVERSATION = "CONVERSATION"  # one Toloker's replies under a composed thread
    APPEAL = "APPEAL"  # a Toloker's appeal of a rejected assignment
    SYSTEM = "SYSTEM"  # automatic notification to a requester
    PLATFORM = "PLATFORM"  # operator's message to requesters
    BONUS = "BONUS"  # a paid bonus's message to its Toloker


class ComposeForm(BaseModel):
    """Toloka's MessageThreadComposeFormV1."""

    model_config = ConfigDict(extra="ignore")

    recipients_select_type: SelectType
    topic: TopicMap
    text: TextMap
    answerable: bool = False
    recipients_ids: list[str] | None = None
    recipients_filter: dict[str, Any] | None = None


class ReplyForm(BaseModel):
    """Toloka's MessageThreadReplyFormV1."""

    model_config = ConfigDict(extra="ignore")

    text: TextMap


class FoldersForm(BaseModel):
    """Toloka's MessageThreadFoldersFormV1."""

    model_config = ConfigDict(extra="ignore")

    folders: list[Folder] = Field(min_length=1)


class MarkAllReadForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folder: Folder | None = None


class AppealForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=TEXT_MAX_CHARS)


class PlatformMessageForm(BaseModel):
    """`POST /api/admin/v1/messages`: to the listed requesters, or to all of them."""

    model_config = ConfigDict(extra="forbid")

    topic: TopicMap
    text: TextMap
    requester_ids: list[str] | None = Field(None, min_length=1, max_length=10_000)
    all_requesters: bool = False


# Response shapes (for the OpenAPI document; handlers build dicts and return `wire(...)`).


class InterlocutorView(BaseModel):
    id: str
    role: str
    myself: bool | None = None


class MessageView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    text: dict[str, str]
    from_: InterlocutorView = Field(alias="from")
    created: str


class ComposeDetailsView(BaseModel):
    recipients_select_type: str
    recipients_ids: list[str] | None = None
    recipients_filter: dict[str, Any] | None = None


class DeliveryView(BaseModel):
    delivered: int
    banned: int
    unknown: int


class OutcomeCounts(BaseModel):
    """A sent thread's `recipient_outcomes`, counted at send time (extension)."""

    DELIVERED: int
    LEFT_OUT_BANNED: int
    LEFT_OUT_UNKNOWN: int
    LEFT_OUT_NOT_YOURS: int
    LEFT_OUT_CAPPED: int


class RecipientView(BaseModel):
    """One addressed Toloker of a send (`GET /message-threads/{id}/recipients`, extension)."""

    id: str
    user_id: str
    outcome: Outcome
    read: bool
    read_at: WireDateTime | None = None
    replied: bool
    reply_thread_id: str | None = None


class RecipientPage(ListPage[RecipientView]):
    pass


class PolicyWarning(BaseModel):
    code: str
    field: str
    message: str
    match: str | None = None


class MessageThreadView(BaseModel):
    """Toloka's MessageThreadViewV1 (+ `delivery`, `outcomes`, `appeal_deadline`, `policy_warnings`)."""

    id: str
    topic: dict[str, str]
    interlocutors_inlined: bool
    interlocutors: list[InterlocutorView]
    messages_inlined: bool
    messages: list[MessageView]
    compose_details: ComposeDetailsView | None = None
    meta: dict[str, str]
    answerable: bool
    folders: list[str]
    parent_id: str | None = None
    created: str
    delivery: DeliveryView | None = None
    outcomes: OutcomeCounts | None = None
    appeal_deadline: str | None = None
    policy_warnings: list[PolicyWarning] | None = None


class MessageThreadPage(ListPage[MessageThreadView]):
    pass


class FolderCounts(BaseModel):
    total: int
    unread: int


class ThreadCounts(BaseModel):
    total: int
    unread: int
    folders: dict[str, FolderCounts]


class DryRunView(BaseModel):
    dry_run: bool
    recipients_select_type: str
    recipients_count: int
    excluded: dict[str, Any]
    policy_warnings: list[PolicyWarning]
