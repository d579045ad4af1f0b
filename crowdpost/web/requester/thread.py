"""/messages/{thread id}: one conversation, its reply box, its appeal or its send.

The page shows what `GET /api/v1/message-threads/{id}` returns (`service.get_requester_thread`),
oldest message first, and acts through the API's own services: a reply is
`service.do_requester_reply`, "Accept responses" is `PATCH /api/v1/assignments/{id}`'s
`do_review_assignment`, the Important and Unread buttons are the add/remove-to-folders calls.

Opening an unread thread marks it read, as Toloka's page does: the requester has read it, and a
thread that stayed unread after being read would make the Unread folder and counts useless. The
page's read happens in a read transaction (a GET never holds the SQLite write lock), and only
when the thread is unread does a second, short write transaction clear the flag — the same
`folders.do_change_folders` the API's remove-from-folders UNREAD runs. "Mark as unread" therefore
goes back to the list: staying on the thread would mark it read again.

Message HTML was passed through the allow-list when it was stored (`messaging.policy`); the
page passes it once more through a stricter subset of the same sanitizer (`message_html`), which
makes every link open in a new tab with `rel="noopener noreferrer nofollow"`, drops `style`
attributes and image sources (the page's CSP blocks both, and a foreign image would tell another
host that the requester read the message), and keeps only absolute http(s)/mailto links.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import nh3
from fastapi import APIRouter, Form, Query, Request
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from crowdpost.config import Settings
from crowdpost.dependencies import SessionDep, SettingsDep, get_db
from crowdpost.errors import ConflictState, DoesNotExist, TooManyRequests, ValidationFailed
from crowdpost.kit.ids import format_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import folders, policy, service
from crowdpost.messaging.schemas import TEXT_MAX_CHARS, Folder, InterlocutorRole, ReplyForm
from crowdpost.messaging.service import Participant
from crowdpost.web.session import FormUserDep, PageUserDep
from crowdpost.web.templating import is_htmx, render
from crowdpost.workforce import filters as audience_filters
from crowdpost.workforce import views as workforce_views
from crowdpost.workforce.participation import CATEGORY as PARTICIPATION
from crowdpost.workforce.participation import Participation
from crowdpost.workforce.profile import AssignmentStatus
from crowdpost.workforce.schemas import AssignmentPatch
from crowdpost.workforce.service import assignments, skills

router = APIRouter(include_in_schema=False)

TEMPLATE = "messages/thread.html"
DANGER_DAYS = 2  # the deadline badge turns red at this many days left, or fewer
SKILL_NAMES_MAX = 20  # a filter names few skills; more are shown by id (one lookup each)

# --- message HTML, shown -----------------------------------------------------------------

# The stored allow-list (`policy.sanitize_html`) minus `style` (the CSP blocks inline styles),
# `target` (always _blank here) and `img src` (the CSP blocks other hosts; the alt text stays).
# tests/web/test_thread_page.py checks this is a subset of the stored allow-list.
SHOWN_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": frozenset({"title", "align"}),
    "a": frozenset({"href"}),
    "img": frozenset({"alt", "width", "height"}),
    "font": frozenset({"color", "size", "face"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
}
_LINK_REL = "noopener noreferrer nofollow"


def _shown(stored: str, *, decorative_images: bool = False) -> str:
    return nh3.clean(
        stored,
        tags=set(policy.ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in SHOWN_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
        link_rel=_LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}, **({"img": {"alt": ""}} if decorative_images else {})},
    )


class _ImagesWithoutAlt(HTMLParser):
    """Counts <img> without an alt attribute (in the sanitizer's own, well-formed output)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img" and all(name != "alt" for name, _ in attrs):
            self.found += 1


def message_html(stored: str) -> Markup:
    """A stored message's HTML as the page shows it: safe on its own (it is a full sanitizer,
    whatever `stored` holds), every link `target="_blank"` with `rel="noopener noreferrer
    nofollow"`. Linear in the input (html5ever's parser, no regular expression).

    An image is never loaded (no src), so one without alt text would be an unnamed image to a
    screen reader (axe: image-alt): if any image of the message lacks alt, every image of it is
    shown as decorative (alt=""), by the sanitizer itself."""
    shown = _shown(stored)
    if "<img" in shown:
        missing = _ImagesWithoutAlt()
        missing.feed(shown)
        missing.close()
        if missing.found:
            shown = _shown(shown, decorative_images=True)
    return Markup(shown)  # noqa: S704 - the output of the sanitizer is the only thing marked safe


# --- a reply typed as plain text, stored as HTML ---------------------------------------------

# Over the typed plain text (never over HTML): starts only at "http", reads a run without spaces
# or quotes possessively, so it is linear.
_TYPED_URL = re.compile(r"""https?://[^\s<>"']++""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def _linked(line: str) -> str:
    """One line of plain text as HTML: escaped, its http(s) addresses made links."""
    out: list[str] = []
    last = 0
    for match in _TYPED_URL.finditer(line):
        url = match.group(0).rstrip(_TRAILING)  # "see https://x.org/a." ends the sentence
        start, end = match.start(), match.start() + len(url)
        out.append(html.escape(line[last:start], quote=False))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url, quote=False)}</a>')
        last = end
    out.append(html.escape(line[last:], quote=False))
    return "".join(out)


def plain_text_to_html(text: str) -> str:
    """What the requester typed, as the message HTML Tolokers see: a blank line starts a new
    paragraph, a line break stays a line break, addresses become links, `<` stays a `<`."""
    paragraphs = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip())]
    return "".join(f"<p>{'<br>'.join(_linked(line) for line in p.split(chr(10)))}</p>" for p in paragraphs if p)


# --- what the page shows -----------------------------------------------------------------------


def long_time(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}, {moment:%H:%M} UTC"


def machine_time(moment: datetime) -> str:
    """For `<time datetime>`: stored times are naive UTC."""
    return moment.replace(tzinfo=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Moment:
    text: str
    iso: str

    @classmethod
    def of(cls, moment: datetime) -> Moment:
        return cls(long_time(moment), machine_time(moment))


@dataclass(frozen=True)
class Text:
    language: str
    html: Markup

    @property
    def empty(self) -> bool:
        """Nothing to see: no text and no image (a lone script, an empty link were removed).
        The sanitizer writes every text "<" as "&lt;", so "<img" can only be an image tag."""
        return not policy.plain_text(self.html).strip() and "<img" not in self.html


@dataclass(frozen=True)
class Sender:
    label: str  # "You", "Administrator", "Toloka", or a Toloker's id
    kind: Literal["me", "toloker", "administrator", "system", "other"]

    @property
    def toloker_id(self) -> str | None:
        return self.label if self.kind == "toloker" else None


@dataclass(frozen=True)
class ShownMessage:
    sender: Sender
    created: Moment
    texts: list[Text]


def sender_of(who: dict[str, Any]) -> Sender:
    if who.get("myself"):
        return Sender("You", "me")
    role = who.get("role")
    if role == InterlocutorRole.USER:
        return Sender(str(who["id"]), "toloker")
    if role == InterlocutorRole.ADMINISTRATOR:
        return Sender("Administrator", "administrator")
    if role == InterlocutorRole.SYSTEM:
        return Sender("Toloka", "system")
    return Sender(str(who.get("id", "")), "other")


def conversation(view: dict[str, Any]) -> list[ShownMessage]:
    """The messages oldest first (the API lists them newest first)."""
    shown = [
        ShownMessage(
            sender=sender_of(m["from"]),
            created=Moment.of(m["created"]),
            texts=[Text(lang, message_html(text)) for lang, text in m["text"].items()],
        )
        for m in view["messages"]
    ]
    shown.reverse()
    return shown


Kind = Literal["sent", "appeal", "administrator", "notification", "conversation"]


def kind_of(view: dict[str, Any]) -> Kind:
    if "compose_details" in view:
        return "sent"
    if view.get("appeal_deadline") is not None:
        return "appeal"
    roles = {i["role"] for i in view["interlocutors"] if not i.get("myself")}
    if InterlocutorRole.ADMINISTRATOR in roles:
        return "administrator"
    if InterlocutorRole.SYSTEM in roles:
        return "notification"
    return "conversation"


def reply_language(view: dict[str, Any]) -> str:
    """The language of the newest message from the other side (else the newest, else EN): the
    Toloker sees a one-language reply whatever it is, so this only labels it well."""
    messages = view["messages"]  # newest first
    theirs = [m for m in messages if not m["from"].get("myself")]
    for message in (*theirs, *messages):
        if message["text"]:
            return str(next(iter(message["text"])))
    return "EN"


# --- the appeal panel --------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    moment: Moment
    left: str  # "7 days left", "5 hours left", "deadline passed"
    danger: bool


def deadline_state(deadline: datetime, now: datetime) -> Deadline:
    """Days left until the 9-day deadline, rounded up; red at DANGER_DAYS or fewer."""
    remaining = deadline - now
    if remaining <= timedelta(0):
        return Deadline(Moment.of(deadline), "deadline passed", True)
    if remaining < timedelta(days=1):
        hours = math.ceil(remaining / timedelta(hours=1))
        return Deadline(Moment.of(deadline), f"{hours} hour{'s' if hours != 1 else ''} left", True)
    days = math.ceil(remaining / timedelta(days=1))
    return Deadline(Moment.of(deadline), f"{days} day{'s' if days != 1 else ''} left", days <= DANGER_DAYS)


@dataclass(frozen=True)
class Appeal:
    assignment_id: str
    pool_id: str | None
    project_id: str | None
    deadline: Deadline
    assignment: dict[str, Any] | None  # GET /api/v1/assignments/{id}; None if it is gone

    @property
    def status(self) -> str | None:
        return self.assignment["status"] if self.assignment else None

    @property
    def can_accept(self) -> bool:
        return self.status == AssignmentStatus.REJECTED

    def when(self, stamp: str) -> Moment | None:
        value = (self.assignment or {}).get(stamp)
        return Moment.of(value) if isinstance(value, datetime) else None


def appeal_of(session: Session, requester_id: int, view: dict[str, Any], now: datetime) -> Appeal | None:
    deadline = view.get("appeal_deadline")
    meta = view["meta"]
    if deadline is None or "assignment_id" not in meta:
        return None
    try:
        row = assignments.get_assignment(session, requester_id, meta["assignment_id"])
        assignment: dict[str, Any] | None = workforce_views.assignment_view(row)
    except DoesNotExist:
        assignment = None
    return Appeal(
        meta["assignment_id"], meta.get("pool_id"), meta.get("project_id"), deadline_state(deadline, now), assignment
    )


# --- the Sent panel ----------------------------------------------------------------------------

_KEY_LABELS = {
    "gender": "Gender",
    "country": "Country",
    "citizenship": "Citizenship",
    "education": "Education",
    "adult_allowed": "Adult content allowed",
    "verified": "Verified",
    "date_of_birth": "Date of birth",
    "city": "City",
    "languages": "Languages",
    "client_type": "Client type",
    "device_category": "Device",
    "os_family": "OS",
    "os_version": "OS version",
    "user_agent_type": "Browser type",
    "user_agent_family": "Browser",
    "user_agent_version": "Browser version",
    "region_by_phone": "Region by phone",
    "region_by_ip": "Region by IP",
}
_OPERATORS = {"EQ": "is", "NE": "is not", "GT": ">", "GTE": "≥", "LT": "<", "LTE": "≤", "IN": "is", "NOT_IN": "is not"}
_LANGUAGE_OPERATORS = {"IN": "include", "NOT_IN": "do not include"}
_BIRTH_OPERATORS = {
    "EQ": "born on",
    "NE": "not born on",
    "GT": "born after",
    "GTE": "born on or after",
    "LT": "born before",
    "LTE": "born on or before",
}


def _value_text(leaf: audience_filters.Leaf) -> str:
    value = leaf.value
    if leaf.key == "date_of_birth" and isinstance(value, int):
        return f"{datetime.fromtimestamp(value, UTC):%-d %b %Y}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "unknown"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    text = str(value)
    if leaf.key in {"gender", "education", "client_type", "device_category", "os_family", "user_agent_type"}:
        return text.replace("_", " ").lower()
    return text


def _participation_text(leaf: audience_filters.Leaf) -> str:
    """`Worked in pool 000000000012 or 000000000013 (at least 2 assignments; accepted; since 1 Nov 2026)`."""
    found: Participation = leaf.value
    kind = "pool" if leaf.key == "pool_id" else "project"
    verb = "Did not work" if leaf.operator.value in ("NE", "NOT_IN") else "Worked"
    details = []
    if found.min_count > 1:
        details.append(f"at least {found.min_count} assignments")
    if found.statuses:
        details.append(" or ".join(status.lower() for status in found.statuses))
    if found.since is not None:
        details.append(f"since {found.since:%-d %b %Y %H:%M} UTC")
    places = " or ".join(format_id(place) for place in found.ids)
    return f"{verb} in {kind} {places}" + (f" ({'; '.join(details)})" if details else "")


def _leaf_text(leaf: audience_filters.Leaf, skill_names: dict[str, str]) -> str:
    operator = leaf.operator.value
    if leaf.category == PARTICIPATION:
        return _participation_text(leaf)
    if leaf.category == "skill":
        name = skill_names.get(leaf.key)
        label = f"Skill “{name}”" if name else f"Skill {leaf.key}"
        if leaf.value is None:
            return f"{label} {'has no value' if operator == 'EQ' else 'has a value'}"
        return f"{label} {_OPERATORS[operator]} {_value_text(leaf)}"
    label = _KEY_LABELS.get(leaf.key, leaf.key.replace("_", " ").capitalize())
    if leaf.key == "languages":
        return f"{label} {_LANGUAGE_OPERATORS.get(operator, _OPERATORS[operator])} {_value_text(leaf)}"
    if leaf.key == "date_of_birth":
        return f"{_BIRTH_OPERATORS.get(operator, _OPERATORS[operator])} {_value_text(leaf)}"
    return f"{label} {_OPERATORS[operator]} {_value_text(leaf)}"


def _node_text(node: audience_filters.Node, skill_names: dict[str, str], top: bool) -> str:
    if isinstance(node, audience_filters.Leaf):
        return _leaf_text(node, skill_names)
    parts = [_node_text(member, skill_names, False) for member in node.members]
    joined = f" {node.conjunction} ".join(parts)
    return joined if top or len(parts) == 1 else f"({joined})"


def _skill_keys(node: audience_filters.Node) -> list[str]:
    if isinstance(node, audience_filters.Leaf):
        return [node.key] if node.category == "skill" else []
    return [key for member in node.members for key in _skill_keys(member)]


def filter_summary(session: Session, requester_id: int, raw: Any) -> str:
    """A stored recipients_filter as a sentence: `Skill “Quality” ≥ 80 and (Languages include
    EN or Country is DE)`. Skill names are the requester's own skills (first SKILL_NAMES_MAX)."""
    try:
        tree = audience_filters.parse_filter(raw)
    except ValidationFailed:
        return str(raw)  # stored before a rule tightened: show it as it is
    names: dict[str, str] = {}
    for key in list(dict.fromkeys(_skill_keys(tree)))[:SKILL_NAMES_MAX]:
        try:
            names[key] = skills.get_skill(session, requester_id, format_id(int(key))).name
        except DoesNotExist:
            continue
    return _node_text(tree, names, True)


@dataclass(frozen=True)
class Sent:
    select_type: str  # DIRECT, FILTER or ALL
    recipients_ids: list[str] = field(default_factory=list)
    filter_text: str | None = None
    min_started: int = 2
    delivered: int = 0
    banned: int = 0
    unknown: int = 0  # no such Toloker, or one who never worked for the requester
    capped: int = 0  # over the weekly bulk cap


def sent_of(session: Session, settings: Settings, requester_id: int, view: dict[str, Any]) -> Sent | None:
    details = view.get("compose_details")
    if details is None:
        return None
    delivery = view.get("delivery") or {}
    outcomes = view.get("outcomes") or {}
    raw_filter = details.get("recipients_filter")
    return Sent(
        select_type=str(details["recipients_select_type"]),
        recipients_ids=list(details.get("recipients_ids") or []),
        filter_text=filter_summary(session, requester_id, raw_filter) if raw_filter is not None else None,
        min_started=settings.all_recipients_min_started,
        delivered=int(delivery.get("delivered") or 0),
        banned=int(delivery.get("banned") or 0),
        unknown=int(delivery.get("unknown") or 0) + int(outcomes.get("LEFT_OUT_NOT_YOURS") or 0),
        capped=int(outcomes.get("LEFT_OUT_CAPPED") or 0),
    )


# --- notices after a reply (carried through the redirect as codes, never as text) --------------

WARNING_TEXT = {
    "CONTACT_DETAILS": "It seems to contain contact details (an e-mail address, a phone number or a messenger "
    "account). Tolokers and requesters stay anonymous.",
    "ADVERTISING": "It seems to advertise a website, app, product or service.",
    "OFF_PLATFORM": "It seems to offer work outside the platform, or to recruit.",
    "PROJECT_LINK": "A link to a project is not in the form Tolokers can open: https://{host}/tasks?projectId=<ID>.",
    "ATTACHMENT": "Attachments are not supported; put the file on a file hosting service and send its link.",
    "UNSUPPORTED_HTML": "Some of its markup is not supported and was removed.",
}


def warning_texts(codes: list[str], settings: Settings) -> list[str]:
    host = service.public_host(settings)
    known = [code for code in dict.fromkeys(codes) if code in WARNING_TEXT]
    return [WARNING_TEXT[code].replace("{host}", host) for code in known]


# --- the page ----------------------------------------------------------------------------------


def page_context(
    session: Session, settings: Settings, requester_id: int, view: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    kind = kind_of(view)
    others = [sender_of(i) for i in view["interlocutors"] if not i.get("myself")]
    topic: dict[str, str] = view.get("topic") or {}
    context: dict[str, Any] = {
        "nav": "messages",
        "view": view,
        "thread_id": view["id"],
        "kind": kind,
        "created": Moment.of(view["created"]),
        "subject": next(iter(topic.values()), ""),
        "subject_language": next(iter(topic), None),
        "other_subjects": list(topic.items())[1:],
        "others": others,
        "messages": conversation(view),
        "important": Folder.IMPORTANT in view["folders"],
        "can_reply": bool(view["answerable"]) and kind in ("sent", "appeal", "conversation"),
        "reply_language": reply_language(view),
        "appeal": appeal_of(session, requester_id, view, utcnow()),
        "sent": sent_of(session, settings, requester_id, view),
        "back_url": _back_url(view),
        "reply_text": "",
        "warnings": [],
        "replied": False,
        "accept_comment": "",
    }
    context.update(extra)
    return context


def _back_url(view: dict[str, Any]) -> str:
    for folder in (Folder.OUTBOX, Folder.AUTOMATIC_NOTIFICATION):
        if folder in view["folders"]:
            return f"/messages?folder={folder.value}"
    return "/messages"


def _thread_url(thread_id: str, **query: Any) -> str:
    pairs = [(k, v) for k, values in query.items() for v in (values if isinstance(values, list) else [values])]
    return f"/messages/{thread_id}" + (f"?{urlencode(pairs)}" if pairs else "")


@router.get("/messages/{thread_id}")
def thread_page(
    request: Request,
    thread_id: str,
    user: PageUserDep,
    settings: SettingsDep,
    replied: bool = False,
    accepted: bool = False,
    warn: Annotated[list[str], Query(max_length=10)] = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    db = get_db(request)
    me = Participant.requester(user.requester_id)
    with db.transaction(write=False) as session:
        view = service.get_requester_thread(session, user.requester_id, thread_id)
        unread = Folder.UNREAD in view["folders"]
        if not unread:
            context = page_context(session, settings, user.requester_id, view)
    if unread:
        # Viewing marks read (see the module docstring): a short write transaction of its own.
        with db.transaction() as session:
            view = folders.do_change_folders(session, me, thread_id, [Folder.UNREAD], add=False)
            context = page_context(session, settings, user.requester_id, view)
    context.update(
        flash="Responses accepted. The Toloker was told in this thread." if accepted else None,
        replied=replied,
        warnings=warning_texts(warn, settings) if replied else [],
    )
    return render(request, TEMPLATE, context)


def _reply_error(fields: dict[str, Any]) -> str:
    """The service's field errors (`text.EN`: {code, message, params}) as one sentence."""
    for name, problem in fields.items():
        if not name.startswith("text"):
            continue
        code = problem.get("code") if isinstance(problem, dict) else None
        if code == "BLANK_STRING_NOT_ALLOWED":
            return "Enter the message text."
        if code == "STRING_LENGTH_GREATER_THAN_MAX":
            return f"The message is too long: at most {TEXT_MAX_CHARS:,} characters, formatting included."
        message = problem.get("message") if isinstance(problem, dict) else str(problem)
        return f"The message text {message}."
    return "The message could not be sent; check the text."


def _pydantic_reply_error(exc: ValidationError) -> str:
    for error in exc.errors():
        location = [str(part) for part in error["loc"]]
        if error["type"] == "string_too_long":
            return f"The message is too long: at most {TEXT_MAX_CHARS:,} characters, formatting included."
        if "text" in location and len(location) >= 2 and error["type"] == "string_pattern_mismatch":
            return "The reply's language is not a language code; reload the page and try again."
    return "The message could not be sent; check the text."


@router.post("/messages/{thread_id}/reply")
def reply(
    request: Request,
    thread_id: str,
    user: FormUserDep,
    session: SessionDep,
    settings: SettingsDep,
    text: Annotated[str, Form()] = "",
    language: Annotated[str, Form(max_length=16)] = "EN",
) -> Response:
    error: str | None = None
    status = 400
    if not text.strip():
        error = "Enter the message text."
    else:
        try:
            form = ReplyForm.model_validate({"text": {language: plain_text_to_html(text)}})
            view = service.do_requester_reply(session, settings, user.requester_id, thread_id, form.text, strict=False)
        except ValidationError as exc:
            error = _pydantic_reply_error(exc)
        except ValidationFailed as exc:
            error = _reply_error(exc.payload or {})
        except TooManyRequests as exc:
            error, status = f"Not sent: {exc.message[:1].lower()}{exc.message[1:].rstrip('.')}.", 429
    if error is not None:
        view = service.get_requester_thread(session, user.requester_id, thread_id)
        context = page_context(session, settings, user.requester_id, view, reply_text=text, errors={"text": error})
        # htmx swaps only 2xx answers; the fragment carries the error next to the field.
        return render(request, TEMPLATE, context, block="conversation", status_code=200 if is_htmx(request) else status)
    codes = [w["code"] for w in view.pop("policy_warnings", [])]
    if is_htmx(request):
        context = page_context(
            session, settings, user.requester_id, view, replied=True, warnings=warning_texts(codes, settings)
        )
        return render(request, TEMPLATE, context, block="conversation")
    url = _thread_url(thread_id, replied=1, warn=list(dict.fromkeys(codes)))
    return RedirectResponse(url + "#latest", status_code=303)  # the new reply, the notice below it


@router.post("/messages/{thread_id}/accept")
def accept_responses(
    request: Request,
    thread_id: str,
    user: FormUserDep,
    session: SessionDep,
    settings: SettingsDep,
    public_comment: Annotated[str, Form()] = "",
) -> Response:
    """The appeal's "Accept responses": PATCH /api/v1/assignments/{id} {"status": "ACCEPTED"}."""
    view = service.get_requester_thread(session, user.requester_id, thread_id)
    assignment_id = view["meta"].get("assignment_id")
    if view.get("appeal_deadline") is None or assignment_id is None:
        raise DoesNotExist(f"Message thread {thread_id} is not an appeal")
    error: str | None = None
    status = 400
    try:
        patch = AssignmentPatch(status=AssignmentStatus.ACCEPTED, public_comment=public_comment.strip() or None)
        assignments.do_review_assignment(session, user.requester_id, assignment_id, patch)
    except ValidationError:
        error = "The comment is too long: at most 2,048 characters."
    except ConflictState as exc:
        error, status = exc.message, 409
    if error is not None:
        context = page_context(
            session,
            settings,
            user.requester_id,
            view,
            accept_comment=public_comment,
            errors={"public_comment": error},
        )
        return render(request, TEMPLATE, context, status_code=status)
    return RedirectResponse(_thread_url(thread_id, accepted=1), status_code=303)


@router.post("/messages/{thread_id}/mark")
def mark(
    thread_id: str,
    user: FormUserDep,
    session: SessionDep,
    folder: Annotated[Literal["IMPORTANT", "UNREAD"], Form()],
    add: Annotated[bool, Form()],
) -> Response:
    """Important on/off, or back to unread (the add/remove-to-folders API's service)."""
    me = Participant.requester(user.requester_id)
    view = folders.do_change_folders(session, me, thread_id, [Folder(folder)], add=add)
    if folder == "UNREAD" and add:
        return RedirectResponse(_back_url(view), status_code=303)  # reopening would mark it read
    return RedirectResponse(f"/messages/{thread_id}", status_code=303)
