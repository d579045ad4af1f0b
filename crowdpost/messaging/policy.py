"""What may be written to Tolokers: HTML sanitizing and the seed's recommendations as checks.

`sanitize_html` runs on every stored text (requester, Toloker, operator, system), so
no script or event handler ever reaches a page. `check_policy` returns warnings for
a requester's compose or reply (`policy_warnings`); `?strict=true` makes them a 400.

Allowed markup is the instruction-editor subset of the guide (`concepts/instruction.md`)
minus `style` elements (page-wide CSS) and `map` (image maps need `area`, not allowed).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

import nh3

from crowdpost.errors import ValidationFailed, field_error

ALLOWED_TAGS = frozenset(
    {
        "a", "b", "big", "blockquote", "br", "center", "cite", "code", "col", "colgroup", "dd", "div",
        "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol",
        "p", "pre", "samp", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
# The guide allows these too; we drop them on purpose (see the module docstring).
_TOLERATED_TAGS = frozenset({"style", "map", "area"})
_ATTRIBUTES = {
    "*": {"style", "title", "align"},
    "a": {"href", "target"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "size", "face"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
}
_STYLE_PROPERTIES = {
    "color", "background-color", "font-weight", "font-style", "font-size", "text-align",
    "text-decoration", "margin", "padding", "border", "width", "height",
}  # fmt: skip
_URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(text: str) -> str:
    """The allowed subset of `text`; everything else is removed (scripts with their content)."""
    return nh3.clean(
        text,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={k: set(v) for k, v in _ATTRIBUTES.items()},
        filter_style_properties=set(_STYLE_PROPERTIES),
        url_schemes=set(_URL_SCHEMES),
    )


def plain_text(text: str) -> str:
    """Text without any markup, for topics and the search index."""
    return html.unescape(nh3.clean(text, tags=set(), clean_content_tags={"script", "style"}))


def sanitize_lang_map(texts: Mapping[str, str], *, markup: bool) -> dict[str, str]:
    clean = sanitize_html if markup else plain_text
    return {lang: clean(value) for lang, value in texts.items()}


# --- the recommendations of the Messages guide, as warnings ---------------------------

_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w/=])\+?\(?\d[\d\s().-]{6,}\d(?![\w/])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _phone(text: str) -> re.Match[str] | None:
    """9-15 digits written like a phone (a leading + or separators); bare ids and dates are not phones."""
    for match in _PHONE.finditer(text):
        candidate = match.group(0)
        digits = sum(ch.isdigit() for ch in candidate)
        written_as_phone = candidate.startswith("+") or any(ch in candidate for ch in " ().-")
        if 9 <= digits <= 15 and written_as_phone and not _ISO_DATE.search(candidate):
            return match
    return None


_HANDLE = re.compile(r"(?<![\w@/.])@[A-Za-z][A-Za-z0-9_]{3,31}\b")
_MESSENGERS = re.compile(
    r"\b(telegram|whats\s?app|viber|skype|wechat|discord|signal\s+me|facebook|instagram|vk\.com|t\.me|wa\.me)\b",
    re.IGNORECASE,
)
_ADS = re.compile(
    r"\b(discount|promo\s?code|coupon|buy\s+now|special\s+offer|our\s+(?:website|app|shop|store|product)s?"
    r"|subscribe\s+to|sale\s+ends|order\s+now|download\s+our)\b",
    re.IGNORECASE,
)
_OFF_PLATFORM = re.compile(
    r"\b(outside\s+(?:of\s+)?(?:toloka|the\s+platform|this\s+platform)|off[-\s]platform|pay\s+you\s+directly"
    r"|contact\s+me\s+(?:at|on|via)|hiring|job\s+offer|vacanc(?:y|ies)|recruit\w*|we\s+are\s+looking\s+for\s+employees"
    r"|send\s+(?:me\s+)?your\s+(?:cv|resume))\b",
    re.IGNORECASE,
)
_URL = re.compile(r"""https?://[^\s"'<>]+""", re.IGNORECASE)
_DATA_URI = re.compile(r"""\bdata:[a-z]+/[a-z0-9.+-]+[;,]""", re.IGNORECASE)
_TAG = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)")
_EVENT_ATTR = re.compile(r"""<[^>]*\s(on[a-z]+)\s*=""", re.IGNORECASE)


def _warning(code: str, field: str, message: str, match: str | None = None) -> dict[str, str]:
    warning = {"code": code, "field": field, "message": message}
    if match is not None:
        warning["match"] = match[:200]
    return warning


def _project_link_problem(url: str, public_host: str) -> str | None:
    """Why a link to a project is not in the form Tolokers can open, or None."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    mentions_project = "project" in parts.path.lower() or "projectId" in query or parts.netloc == public_host
    if not mentions_project:
        return None
    if (
        parts.scheme == "https"
        and parts.netloc == public_host
        and parts.path == "/tasks"
        and list(query) == ["projectId"]
        and all(v.isdigit() for v in query["projectId"])
    ):
        return None
    return f"project links must look like https://{public_host}/tasks?projectId=<ID>"


def _check_one(field: str, value: str, public_host: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    visible = plain_text(value)
    without_urls = _URL.sub(" ", visible)
    for pattern, code, message in (
        (_EMAIL, "CONTACT_DETAILS", "e-mail addresses are contact details; Tolokers and requesters stay anonymous"),
        (_PHONE, "CONTACT_DETAILS", "phone numbers are contact details; Tolokers and requesters stay anonymous"),
        (_HANDLE, "CONTACT_DETAILS", "messenger or social handles are contact details"),
        (_MESSENGERS, "CONTACT_DETAILS", "do not move the conversation to a messenger or social network"),
        (_ADS, "ADVERTISING", "messages must not advertise websites, apps, products or services"),
        (_OFF_PLATFORM, "OFF_PLATFORM", "do not offer work outside the platform or recruit employees"),
    ):
        match = _phone(without_urls) if pattern is _PHONE else pattern.search(visible)
        if match:
            found.append(_warning(code, field, message, match.group(0).strip()))
    for url in _URL.findall(value):
        problem = _project_link_problem(html.unescape(url), public_host)
        if problem:
            found.append(_warning("PROJECT_LINK", field, problem, url))
    data_uri = _DATA_URI.search(value)
    if data_uri:
        found.append(
            _warning("ATTACHMENT", field, "attachments are not supported; link to a file hosting", data_uri.group(0))
        )
    unsupported = sorted({t.lower() for t in _TAG.findall(value)} - ALLOWED_TAGS - _TOLERATED_TAGS - {"html", "body"})
    if unsupported:
        found.append(
            _warning("UNSUPPORTED_HTML", field, "these tags are not supported and were removed", ",".join(unsupported))
        )
    handler = _EVENT_ATTR.search(value)
    if handler:
        found.append(
            _warning("UNSUPPORTED_HTML", field, "scripts are not supported and were removed", handler.group(1))
        )
    return found


def check_policy(topic: Mapping[str, str] | None, text: Mapping[str, str], public_host: str) -> list[dict[str, str]]:
    """Warnings for the raw (unsanitized) topic and text, one per rule and field."""
    warnings: list[dict[str, str]] = []
    for lang, value in (topic or {}).items():
        warnings.extend(_check_one(f"topic.{lang}", value, public_host))
    for lang, value in text.items():
        warnings.extend(_check_one(f"text.{lang}", value, public_host))
    return warnings


def raise_if_strict(warnings: list[dict[str, str]], strict: bool) -> None:
    if not strict or not warnings:
        return
    fields: dict[str, dict[str, object]] = {}
    for warning in warnings:
        fields.setdefault(
            warning["field"],
            field_error(
                f"POLICY_{warning['code']}", warning["message"], *([warning["match"]] if "match" in warning else [])
            ),
        )
    raise ValidationFailed(fields, "The message breaks the messaging recommendations (strict mode)")
