"""/messages: the requester's Messages page, as the guide describes it.

    GET  /messages                          a folder (?folder=inbox|sent|users|...), a search (?q=),
                                            a page of 50 (?id_lt= older, ?id_gt= newer)
    POST /messages/mark-all-read            "Mark all as read" for the folder shown
    POST /messages/{thread id}/read         the button left of the subject (read=true|false)
    POST /messages/{thread id}/important    the label under the date (important=true|false)

Every handler calls the service the API endpoint calls (`list_requester_threads`,
`do_change_folders`, `do_mark_all_read`); what is left here is presentation: which filters a
folder of the switcher means, the words of a row (subject, first line, other party), paging
links. POSTs answer htmx with the changed row (or list) plus the folder counts out of band,
and everyone else with a 303 back to the page they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from crowdpost.dependencies import SessionDep
from crowdpost.errors import DoesNotExist, ValidationFailed
from crowdpost.kit.language_choice import pick_language
from crowdpost.kit.pagination import ListParams, SortKey
from crowdpost.messaging import folders, policy, service
from crowdpost.messaging.schemas import Folder, InterlocutorRole, SelectType
from crowdpost.messaging.service import Participant, ThreadFilters
from crowdpost.web.session import FormUserDep, PageUser, PageUserDep, safe_next
from crowdpost.web.templating import is_htmx, render
from crowdpost.workforce.service.owned import check_worker

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
TEMPLATE = "messages/list.html"
# A Toloker id as the API stores it (letters, digits, `_.-`, at most 64): a single word of the
# search box that has this shape AND names a Toloker who worked for the requester is an id search.
TOLOKER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
EXCERPT_CHARS = 160
# How much of a message's HTML is read for its first line: a message may hold 100,000 chars.
EXCERPT_SOURCE_CHARS = 4000
# Block ends become line breaks before the markup is dropped, so "the first line" is one.
_BLOCK_END = re.compile(r"<(?:br\b[^>]*|/(?:p|div|li|ul|ol|h[1-6]|blockquote|pre|tr))>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Tab:
    """One entry of the folder switcher: its URL value, its words and the API filters it means."""

    key: str
    label: str
    filters: ThreadFilters
    # What "Mark all as read" passes to `do_mark_all_read` while this folder is shown.
    mark_folder: Folder
    mark_role: InterlocutorRole | None
    empty_title: str
    empty_text: str


def _tab(key: str, label: str, folder: Folder, role: InterlocutorRole | None, title: str, text: str) -> Tab:
    filters = ThreadFilters(folder=[folder], interlocutor_role=role.value if role else None)
    return Tab(key, label, filters, folder, role, title, text)


TABS: tuple[Tab, ...] = (
    _tab(
        "inbox",
        "Inbox",
        Folder.INBOX,
        None,
        "Your inbox is empty",
        "Messages you receive land here: Tolokers' replies, questions and appeals, and messages from the platform. "
        "Write to the Tolokers who work on your tasks to start a conversation.",
    ),
    _tab(
        "sent",
        "Sent",
        Folder.OUTBOX,
        None,
        "You have not sent any messages",
        "Messages you send land here: to individual Tolokers by ID, to a group of Tolokers chosen with filters, "
        "or to every Toloker who started at least two of your tasks.",
    ),
    _tab(
        "users",
        "Users",
        Folder.INBOX,
        InterlocutorRole.USER,
        "No messages from Tolokers yet",
        "Replies, questions and appeals from Tolokers land here. Send a message that allows replies to hear from them.",
    ),
    _tab(
        "administrator",
        "Administrator",
        Folder.INBOX,
        InterlocutorRole.ADMINISTRATOR,
        "No messages from the platform",
        "Messages from the platform's administrators land here.",
    ),
    _tab(
        "notifications",
        "Notifications",
        Folder.AUTOMATIC_NOTIFICATION,
        None,
        "No notifications",
        "System notifications land here: a pool closed, an operation finished, your balance ran low.",
    ),
    _tab(
        "important",
        "Important",
        Folder.IMPORTANT,
        None,
        "Nothing marked important",
        "Click the Important label under a message's date to keep it here.",
    ),
    _tab(
        "unread",
        "Unread",
        Folder.UNREAD,
        None,
        "You are all caught up",
        "Messages you have not read yet show up here.",
    ),
)
TAB_BY_KEY = {tab.key: tab for tab in TABS}
# The API's folder names are accepted too (?folder=INBOX, OUTBOX, AUTOMATIC_NOTIFICATION...).
TAB_ALIASES = {"outbox": "sent", "automatic_notification": "notifications"}
DEFAULT_TAB = TABS[0]


def tab_of(raw: str | None) -> Tab:
    if not raw:
        return DEFAULT_TAB
    key = raw.strip().lower()
    tab = TAB_BY_KEY.get(TAB_ALIASES.get(key, key))
    if tab is None:
        raise DoesNotExist(f"There is no folder {raw!r}")
    return tab


def unread_of(tab: Tab, counts: folders.UnreadCounts) -> int:
    if tab.mark_role is not None:
        return counts.inbox_roles.get(tab.mark_role.value, 0)
    return counts.folders.get(tab.mark_folder.value, 0)


@dataclass(frozen=True)
class NavItem:
    tab: Tab
    href: str
    unread: int
    # "12", or "999+" past the counting window
    shown: str
    current: bool


def folder_nav(counts: folders.UnreadCounts, current: Tab | None) -> list[NavItem]:
    items = []
    for tab in TABS:
        unread = unread_of(tab, counts)
        shown = f"{unread:,}" + ("" if counts.complete else "+")
        items.append(NavItem(tab, folder_url(tab), unread, shown, tab is current))
    return items


def folder_url(tab: Tab, **extra: str) -> str:
    query = {"folder": tab.key, **extra} if tab is not DEFAULT_TAB or extra else {}
    return "/messages" + (f"?{urlencode(query)}" if query else "")


# --- search ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """What the search box asked for: threads with one Toloker, or a keyword / "phrase" search."""

    text: str
    kind: Literal["toloker", "text"]

    @property
    def filters(self) -> ThreadFilters:
        return ThreadFilters(user_id=self.text) if self.kind == "toloker" else ThreadFilters(q=self.text)

    @property
    def summary(self) -> str:
        return f"Threads with Toloker {self.text}" if self.kind == "toloker" else f"Messages containing “{self.text}”"

    @property
    def as_text_url(self) -> str:
        """The same words as a keyword search (offered beside a Toloker search)."""
        return "/messages?" + urlencode({"q": self.text, "kind": "text"})


def resolve_search(session: Session, requester_id: int, q: str | None, kind: str | None) -> Search | None:
    """A Toloker ID (one word of that shape, of a Toloker who started the requester's tasks)
    finds their threads; anything else is words or a "quoted phrase"."""
    text = (q or "").strip()
    if not text:
        return None
    if kind != "text" and TOLOKER_ID.fullmatch(text):
        try:
            check_worker(session, requester_id, text)
        except ValidationFailed:
            return Search(text, "text")
        return Search(text, "toloker")
    return Search(text, "text")


def search_problem(exc: ValidationFailed, text: str) -> str:
    """The API's refusal of a search, in the page's words."""
    problem = (exc.payload or {}).get("q") or {}
    code = problem.get("code") if isinstance(problem, dict) else None
    if code == "STRING_LENGTH_GREATER_THAN_MAX":
        return f"The search is {len(text):,} characters long; use at most {problem['params'][0]}."
    if code == "VALUE_REQUIRED":
        return "Enter a word, a “quoted phrase” or a Toloker ID to search for."
    if code == "ARRAY_SIZE_GREATER_THAN_MAX":
        return f"{exc.message}. Use fewer words, or put the words that belong together in “quotes”."
    return exc.message


# --- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One thread of the list, in the page's words."""

    id: str
    subject: str
    excerpt: str
    party: str
    # "to" for the requester's own sends (the party is the audience), "from" otherwise
    direction: Literal["to", "from"]
    when: datetime | str
    unread: bool
    important: bool
    appeal: bool


def first_line(html: str) -> str:
    """The first non-blank line of a stored (sanitized) message as plain text, shortened."""
    text = policy.plain_text(_BLOCK_END.sub("\n", html[:EXCERPT_SOURCE_CHARS]))
    line = next((_SPACES.sub(" ", part).strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= EXCERPT_CHARS else line[: EXCERPT_CHARS - 1].rstrip() + "…"


def in_language(texts: dict[str, str] | None) -> str:
    lang = pick_language(texts, ())
    return texts[lang] if texts and lang is not None else ""


def party_of(view: dict[str, Any]) -> tuple[str, Literal["to", "from"]]:
    """Who is on the other side: a Toloker id, "Administrator", "Toloka", or a send's audience."""
    details = view.get("compose_details")
    others = [i for i in view.get("interlocutors", []) if not i.get("myself")]
    if details is not None:
        delivered = (view.get("delivery") or {}).get("delivered", 0)
        select_type = details.get("recipients_select_type")
        if select_type == SelectType.DIRECT and len(others) == 1:
            return str(others[0]["id"]), "to"
        if select_type == SelectType.DIRECT:
            return f"{delivered:,} Tolokers", "to"
        if select_type == SelectType.FILTER:
            return f"Group of Tolokers ({delivered:,})", "to"
        return f"All your Tolokers ({delivered:,})", "to"
    if not others:
        return "", "from"
    role = others[0].get("role")
    if role == InterlocutorRole.ADMINISTRATOR:
        return "Administrator", "from"
    if role == InterlocutorRole.SYSTEM:
        return "Toloka", "from"
    return str(others[0]["id"]), "from"


def row_of(view: dict[str, Any]) -> Row:
    messages = view.get("messages") or []
    newest = messages[0] if messages else None  # the service lists a thread's messages newest first
    party, direction = party_of(view)
    thread_folders = view.get("folders") or []
    return Row(
        id=str(view["id"]),
        subject=in_language(view.get("topic")).strip() or "(no subject)",
        excerpt=first_line(in_language(newest["text"])) if newest else "",
        party=party,
        direction=direction,
        when=newest["created"] if newest else view["created"],
        unread=Folder.UNREAD.value in thread_folders,
        important=Folder.IMPORTANT.value in thread_folders,
        appeal=view.get("appeal_deadline") is not None,
    )


# --- the page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paging:
    newer_url: str | None
    older_url: str | None


def _params(id_lt: str | None, id_gt: str | None) -> ListParams:
    """Newest first; `id_gt` walks back towards the newest (ascending, reversed afterwards)."""
    if id_gt:
        return ListParams(limit=PAGE_SIZE, sort=[SortKey("id", False)], id_range={"gt": id_gt})
    return ListParams(limit=PAGE_SIZE, sort=[SortKey("id", True)], id_range={"lt": id_lt} if id_lt else {})


def list_page(
    session: Session, requester_id: int, filters: ThreadFilters, id_lt: str | None, id_gt: str | None
) -> tuple[list[dict[str, Any]], bool, bool]:
    """(threads newest first, has newer, has older) through the API's own listing."""
    if id_gt:
        page = service.list_requester_threads(session, requester_id, filters, _params(None, id_gt))
        if page["has_more"]:
            return list(reversed(page["items"])), True, True
        # Back at the newest threads: show the first page itself, full and as a bookmark would.
        id_gt = None
    page = service.list_requester_threads(session, requester_id, filters, _params(id_lt, None))
    return page["items"], bool(id_lt), bool(page["has_more"])


def page_context(
    session: Session,
    user: PageUser,
    tab: Tab,
    search: Search | None,
    id_lt: str | None = None,
    id_gt: str | None = None,
) -> tuple[dict[str, Any], int]:
    """Everything the template shows, and the status (400 when the search was refused)."""
    filters = search.filters if search is not None else tab.filters
    problem = None
    try:
        views, has_newer, has_older = list_page(session, user.requester_id, filters, id_lt, id_gt)
    except ValidationFailed as exc:
        if search is None or "q" not in (exc.payload or {}):
            raise
        problem, views, has_newer, has_older = search_problem(exc, search.text), [], False, False
    rows = [row_of(view) for view in views]
    base = {"q": search.text} if search is not None else {}
    if search is not None and search.kind == "text" and TOLOKER_ID.fullmatch(search.text):
        base["kind"] = "text"

    def url(**bound: str) -> str:
        query = base | bound if search is not None else ({"folder": tab.key} | bound)
        return "/messages?" + urlencode(query)

    paging = Paging(
        newer_url=url(id_gt=rows[0].id) if has_newer and rows else (url() if has_newer else None),
        older_url=url(id_lt=rows[-1].id) if has_older and rows else None,
    )
    counts = folders.requester_unread_counts(session, user.requester_id)
    here = url(id_lt=id_lt) if id_lt else (url(id_gt=id_gt) if id_gt else (url() if search else folder_url(tab)))
    context = {
        "nav": "messages",
        "tab": tab,
        "tabs": folder_nav(counts, None if search is not None else tab),
        "counts": counts,
        "search": search,
        "search_problem": problem,
        "rows": rows,
        "paging": paging,
        "paged": bool(id_lt or id_gt),
        "here": here,
        "oob": False,
    }
    return context, 400 if problem else 200


@router.get("/messages")
def messages_page(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    folder: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=2000)] = None,
    kind: Annotated[Literal["text"] | None, Query()] = None,
    id_lt: Annotated[str | None, Query(max_length=64)] = None,
    id_gt: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    tab = tab_of(folder)
    search = resolve_search(session, user.requester_id, q, kind)
    context, status = page_context(session, user, tab, search, id_lt, id_gt)
    return render(request, TEMPLATE, context, status_code=status)


# --- marks ----------------------------------------------------------------------------------

NextField = Annotated[str, Form(max_length=2000)]
FlagField = Annotated[Literal["true", "false"], Form()]


def _mark(
    request: Request, session: Session, user: PageUser, thread_id: str, folder: Folder, *, add: bool, next_url: str
) -> Response:
    """Puts the thread into `folder` (add) or takes it out, then answers the page that posted:
    a redirect back to it, or for htmx the thread's row and the folder counts."""
    who = Participant.requester(user.requester_id)
    view = folders.do_change_folders(session, who, thread_id, [folder], add=add)
    if not is_htmx(request):
        return RedirectResponse(f"{safe_next(next_url)}#thread-{view['id']}", status_code=303)
    counts = folders.requester_unread_counts(session, user.requester_id)
    current = _tab_in(next_url)
    context = {
        "row": row_of(view),
        "here": safe_next(next_url),
        "tabs": folder_nav(counts, current),
        "counts": counts,
        "oob": True,
    }
    return render(request, TEMPLATE, context, block="row_update")


def _tab_in(next_url: str) -> Tab | None:
    """The folder the page that posted shows (None for a search page): its link stays marked."""
    match = re.search(r"[?&]folder=([A-Za-z_]+)", next_url)
    if "q=" in next_url and not match:
        return None
    try:
        return tab_of(match.group(1) if match else None)
    except DoesNotExist:
        return DEFAULT_TAB


@router.post("/messages/{thread_id}/read")
def mark_read(
    request: Request, thread_id: str, user: FormUserDep, session: SessionDep, read: FlagField, next: NextField = ""
) -> Response:
    """Clicking left of the subject: read (read=true), or unread again (read=false)."""
    return _mark(request, session, user, thread_id, Folder.UNREAD, add=read == "false", next_url=next)


@router.post("/messages/{thread_id}/important")
def mark_important(
    request: Request, thread_id: str, user: FormUserDep, session: SessionDep, important: FlagField, next: NextField = ""
) -> Response:
    """The label under the date: into IMPORTANT (important=true) or out of it."""
    return _mark(request, session, user, thread_id, Folder.IMPORTANT, add=important == "true", next_url=next)


@router.post("/messages/mark-all-read")
def mark_all_read(
    request: Request,
    user: FormUserDep,
    session: SessionDep,
    folder: Annotated[str, Form(max_length=40)] = DEFAULT_TAB.key,
) -> Response:
    """Every unread thread of the folder shown (Users / Administrator: only theirs)."""
    tab = tab_of(folder)
    who = Participant.requester(user.requester_id)
    folders.do_mark_all_read(session, who, tab.mark_folder, interlocutor_role=tab.mark_role)
    if not is_htmx(request):
        return RedirectResponse(folder_url(tab), status_code=303)
    context, status = page_context(session, user, tab, None)
    # The list is swapped in place; the folder counts ride along out of band (`hx-swap-oob`).
    return render(request, TEMPLATE, {**context, "oob": True}, block="list_update", status_code=status)
