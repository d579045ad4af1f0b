"""/toloker/messages: a Toloker's folders, threads, marks, replies and appeals.

Every handler calls the same services as `/api/toloker/v1` (`messaging.toloker_service`,
`messaging.folders`); texts come in the Toloker's language (their languages first, then EN),
as the API chooses them. Refusals of the service (a thread that takes no reply, an appeal
out of its window) are shown beside the form, never as a stack trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from crowdpost.accounts import lookup
from crowdpost.dependencies import SessionDep
from crowdpost.errors import ApiError, ValidationFailed
from crowdpost.kit.language_choice import pick_language
from crowdpost.kit.pagination import ListParams, SortKey
from crowdpost.messaging import folders, policy, toloker_service
from crowdpost.messaging.schemas import Folder
from crowdpost.messaging.service import Participant, ThreadFilters
from crowdpost.messaging.views import APPEAL_SETTLE, APPEAL_WINDOW
from crowdpost.rewards import toloker_bonuses
from crowdpost.web.requester.thread import long_time, machine_time, message_html, plain_text_to_html
from crowdpost.web.templating import render
from crowdpost.web.toloker.session import TolokerFormDep, TolokerPageDep

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
REPLY_MAX_CHARS = 20_000
TextField = Annotated[str, Form(max_length=REPLY_MAX_CHARS)]


@dataclass(frozen=True)
class Tab:
    key: str  # the ?folder= value
    label: str
    folder: Folder


TABS = (
    Tab("inbox", "Inbox", Folder.INBOX),
    Tab("important", "Important", Folder.IMPORTANT),
    Tab("unread", "Unread", Folder.UNREAD),
)
TAB_BY_KEY = {tab.key: tab for tab in TABS}


@dataclass(frozen=True)
class Row:
    id: str
    topic: str
    sender: str
    preview: str
    unread: bool
    important: bool
    time_text: str
    time_iso: str
    when: datetime  # the list's short date (the `when` filter)


@dataclass(frozen=True)
class Shown:
    """One message of a thread as the page shows it."""

    mine: bool
    sender: str
    html: Any  # Markup from the sanitizer
    language: str
    time_text: str
    time_iso: str


def _first(texts: dict[str, str] | None) -> tuple[str, str]:
    """(language, text): the API has already chosen the Toloker's language."""
    if not texts:
        return "", ""
    language = next(iter(texts))
    return language, texts[language]


@dataclass(frozen=True)
class Names:
    """Requesters' public names for one page, in the Toloker's language (then EN)."""

    by_id: dict[str, dict[str, str]]
    languages: list[str]

    @classmethod
    def of(cls, session: Session, user_id: str, senders: list[dict[str, Any]]) -> Names:
        ids = {str(who.get("id")) for who in senders if who.get("role") == "REQUESTER" and who.get("id")}
        return cls(lookup.public_names(session, ids), toloker_bonuses.toloker_languages(session, user_id))

    def requester(self, public_id: str) -> str:
        name = self.by_id.get(public_id, {})
        language = pick_language(name, self.languages)
        return name[language] if language else f"Requester {public_id}"


def _sender_label(who: dict[str, Any], names: Names) -> str:
    if who.get("myself"):
        return "You"
    role = who.get("role")
    if role == "REQUESTER":
        return names.requester(str(who.get("id")))
    if role == "ADMINISTRATOR":
        return "Administrator"
    if role == "SYSTEM":
        return "crowdpost"
    return str(who.get("id", ""))


# The end of a block (paragraph, list item, line break): a space in the one-line preview, so
# "<p>Next week:</p><p>Monday</p>" does not read "Next week:Monday".
_BLOCK_END = re.compile(r"<(?:br\b[^>]*|/(?:p|div|li|ul|ol|h[1-6]|blockquote|pre|tr))>", re.IGNORECASE)


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _row(view: dict[str, Any], names: Names) -> Row:
    messages = view.get("messages") or []
    last = messages[0] if messages else None  # the service lists a thread's messages newest first
    _, topic = _first(view.get("topic"))
    _, text = _first(last["text"]) if last else ("", "")
    created = _as_datetime(last["created"] if last else view["created"])
    preview = " ".join(policy.plain_text(_BLOCK_END.sub(" ", text)).split())[:160]
    return Row(
        id=view["id"],
        topic=topic or "(no subject)",
        sender=_sender_label(last["from"], names) if last else "",
        preview=preview,
        unread=Folder.UNREAD.value in view["folders"],
        important=Folder.IMPORTANT.value in view["folders"],
        time_text=long_time(created),
        time_iso=machine_time(created),
        when=created,
    )


@router.get("/toloker/messages")
def messages_page(request: Request, user: TolokerPageDep, session: SessionDep, folder: str = "inbox") -> Response:
    tab = TAB_BY_KEY.get(folder, TABS[0])
    who = Participant.toloker(user.user_id)
    counts = folders.folder_counts(session, who)
    params = ListParams(limit=PAGE_SIZE, sort=[SortKey("created", True), SortKey("id", True)])
    page = toloker_service.list_toloker_threads(session, user.user_id, ThreadFilters(folder=[tab.folder]), params)
    folder_counts = counts.get("folders", {})
    tabs = [
        {
            "tab": t,
            "total": folder_counts.get(t.folder.value, {}).get("total", 0),
            "unread": folder_counts.get(t.folder.value, {}).get("unread", 0),
        }
        for t in TABS
    ]
    newest = [v["messages"][0]["from"] for v in page["items"] if v.get("messages")]
    names = Names.of(session, user.user_id, newest)
    context = {"nav": "messages", "tab": tab, "tabs": tabs, "rows": [_row(v, names) for v in page["items"]]}
    return render(request, "toloker/messages.html", context)


def _thread_context(view: dict[str, Any], session: Session, user_id: str) -> dict[str, Any]:
    names = Names.of(session, user_id, [message["from"] for message in view.get("messages") or []])
    shown = []
    # Oldest first, as the requester's thread page: the conversation reads down to the reply box.
    for message in reversed(view.get("messages") or []):
        language, text = _first(message["text"])
        created = _as_datetime(message["created"])
        shown.append(
            Shown(
                mine=bool(message["from"].get("myself")),
                sender=_sender_label(message["from"], names),
                html=message_html(text),
                language=language,
                time_text=long_time(created),
                time_iso=machine_time(created),
            )
        )
    _, topic = _first(view.get("topic"))
    deadline = view.get("appeal_deadline")
    return {
        "nav": "messages",
        "thread": view,
        "topic": topic or "(no subject)",
        "shown": shown,
        "unread": Folder.UNREAD.value in view["folders"],
        "important": Folder.IMPORTANT.value in view["folders"],
        "appeal_deadline": long_time(_as_datetime(deadline)) if deadline else None,
    }


@router.get("/toloker/messages/{thread_id}")
def thread_page(request: Request, thread_id: str, user: TolokerPageDep, session: SessionDep) -> Response:
    view = toloker_service.get_toloker_thread(session, user.user_id, thread_id)
    if Folder.UNREAD.value in view["folders"]:
        # Opening a thread reads it, as in the requester's pages.
        view = folders.do_change_folders(
            session, Participant.toloker(user.user_id), thread_id, [Folder.UNREAD], add=False
        )
    return render(request, "toloker/thread.html", _thread_context(view, session, user.user_id))


@router.post("/toloker/messages/{thread_id}/mark")
def mark(
    thread_id: str,
    user: TolokerFormDep,
    session: SessionDep,
    folder: Annotated[str, Form(max_length=16)],
    on: Annotated[str, Form(max_length=8)],
) -> Response:
    chosen = Folder.IMPORTANT if folder == "IMPORTANT" else Folder.UNREAD
    folders.do_change_folders(session, Participant.toloker(user.user_id), thread_id, [chosen], add=on == "1")
    if chosen is Folder.UNREAD and on == "1":
        # Marked unread: back to the list, or opening the thread would read it again.
        return RedirectResponse("/toloker/messages", status_code=303)
    return RedirectResponse(f"/toloker/messages/{thread_id}", status_code=303)


def _error_text(exc: ApiError) -> str:
    if isinstance(exc, ValidationFailed) and isinstance(exc.payload, dict):
        for error in exc.payload.values():
            if isinstance(error, dict) and error.get("message"):
                return str(error["message"])
    return exc.message


@router.post("/toloker/messages/{thread_id}/reply")
def reply(
    request: Request, thread_id: str, user: TolokerFormDep, session: SessionDep, text: TextField = ""
) -> Response:
    if not text.strip():
        error = "Write a message first."
    else:
        try:
            # The service refuses in a savepoint of its own making: nothing is half written.
            with session.begin_nested():
                landed = toloker_service.do_toloker_reply(
                    session, user.user_id, thread_id, {"EN": plain_text_to_html(text)}
                )
            return RedirectResponse(f"/toloker/messages/{landed['id']}", status_code=303)
        except (ValidationFailed, ApiError) as exc:
            if exc.status_code == 404:
                raise
            error = _error_text(exc)
    view = toloker_service.get_toloker_thread(session, user.user_id, thread_id)
    context = _thread_context(view, session, user.user_id) | {"errors": {"text": error}, "text": text}
    return render(request, "toloker/thread.html", context, status_code=400)


@router.get("/toloker/appeal")
def appeal_page(request: Request, user: TolokerPageDep, assignment: str = "") -> Response:
    return render(request, "toloker/appeal.html", _appeal_context(assignment[:64], ""))


def _appeal_context(assignment: str, text: str, errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "nav": "messages",
        "assignment": assignment,
        "text": text,
        "errors": errors or {},
        "window_days": APPEAL_WINDOW.days,
        "settle_days": APPEAL_SETTLE.days,
    }


@router.post("/toloker/appeal")
def appeal(
    request: Request,
    user: TolokerFormDep,
    session: SessionDep,
    assignment: Annotated[str, Form(max_length=64)] = "",
    text: TextField = "",
) -> Response:
    errors: dict[str, str] = {}
    if not assignment.strip():
        errors["assignment"] = "Enter the ID of the rejected assignment."
    if not text.strip():
        errors["text"] = "Say why the assignment should be accepted."
    if not errors:
        try:
            with session.begin_nested():
                thread = toloker_service.do_appeal(session, user.user_id, assignment.strip(), text.strip())
            return RedirectResponse(f"/toloker/messages/{thread['id']}", status_code=303)
        except ApiError as exc:
            errors["assignment"] = _error_text(exc)
    return render(request, "toloker/appeal.html", _appeal_context(assignment, text, errors), status_code=400)
