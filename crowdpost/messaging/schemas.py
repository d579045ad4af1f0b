"""Wire models: Toloka's MessageThreadViewV1 and its forms, plus crowdpost's extensions."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crowdpost.kit.schemas import LangText

TOPIC_MAX_CHARS = 1000
TEXT_MAX_CHARS = 100_000
DIRECT_MAX_RECIPIENTS = 100


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
    topic: LangText
    text: LangText
    answerable: bool = False
    recipients_ids: list[str] | None = None
    recipients_filter: dict[str, Any] | None = None


class ReplyForm(BaseModel):
    """Toloka's MessageThreadReplyFormV1."""

    model_config = ConfigDict(extra="ignore")

    text: LangText


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

    topic: LangText
    text: LangText
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


class PolicyWarning(BaseModel):
    code: str
    field: str
    message: str
    match: str | None = None


class MessageThreadView(BaseModel):
    """Toloka's MessageThreadViewV1 (+ `delivery`, `appeal_deadline`, `policy_warnings`)."""

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
    appeal_deadline: str | None = None
    policy_warnings: list[PolicyWarning] | None = None


class MessageThreadPage(BaseModel):
    items: list[MessageThreadView]
    has_more: bool


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
