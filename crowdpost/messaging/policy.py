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

# Every pattern below is linear in its input, whatever the input. Python's `re` backtracks, and
# `search`/`finditer` retry a failed attempt at every later position, so a pattern whose attempt
# can read far and then fail costs O(n) per start and O(n²) per search (the old `_EMAIL` on a
# long run of letters, `_TAG` and `_EVENT_ATTR` on "<" and spaces). Two rules keep them linear:
# - an attempt may read far only from a position no other attempt reads past (the start of a
#   run, a '<' up to the next bracket), so each character is read by O(1) attempts;
# - no two unbounded quantifiers can match the same characters, and runs are possessive (`*+`,
#   `++`) where giving characters back could never let the rest match, so an attempt never
#   re-reads what it has read.
# tests/security/test_text_checks.py runs each of them on 1 MB of the inputs that used to hang.

# Tried only where a run of local-part characters begins (the lookbehind refuses every later
# start of the same run in O(1)); the local part and each domain label are possessive ('@' and
# '.' are outside their classes); the label repetition gives back whole labels only, each tried
# once as the top-level domain. Each character is read by one local part and one domain.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*\.[A-Za-z]{2,}")
# A digit run written like a phone: an optional "+" and "(", then digit blocks joined by
# separators, possessively, ending on a digit not followed by a word character or "/" (as the
# old `\d[\d\s().-]{6,}\d(?![\w/])`, which re-read a long run of digits and spaces from each of
# its starts). Separators and digits are disjoint, so nothing is read twice within an attempt; a
# block that touches a word is left out and the run ends at the block before.
# (The leading lookahead only lets `re` skip positions that cannot start a phone, faster.)
_PHONE = re.compile(r"(?=[+(\d])(?<![\w/=])\+?\(?\d(?:[\s().-]*+\d++(?![\w/]))*+")
_PHONE_MIN_CHARS = 8  # as `\d[\d\s().-]{6,}\d`, after the optional "+" and "("
# Longer runs need 49+ separators for at most 15 digits: a table of numbers, not a phone. The
# cap also bounds the per-candidate work below.
_PHONE_MAX_CHARS = 64
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # bounded: at most 10 characters per attempt


def _phone(text: str) -> re.Match[str] | None:
    """9-15 digits written like a phone (a leading + or separators); bare ids and dates are not phones."""
    for match in _PHONE.finditer(text):
        candidate = match.group(0)
        body = candidate.lstrip("+(")
        if not _PHONE_MIN_CHARS <= len(body) <= _PHONE_MAX_CHARS:
            continue
        digits = sum(ch.isdigit() for ch in candidate)
        written_as_phone = candidate.startswith("+") or any(ch in candidate for ch in " ().-")
        if 9 <= digits <= 15 and written_as_phone and not _ISO_DATE.search(candidate):
            return match
    return None


# Bounded: starts only at "@" (a literal first, so `re` jumps from "@" to "@"; the lookbehind
# then looks at the character before it) and reads at most 32 characters.
_HANDLE = re.compile(r"@(?<![\w@/.]@)[A-Za-z][A-Za-z0-9_]{3,31}\b")


def _keywords(*alternatives: str) -> re.Pattern[str]:
    """`\b(alternative|...)\b`, case-insensitive.

    Linear: every alternative starts with a literal word and reads at most one possessive run
    of spaces after a literal (then a literal letter must follow), so a position costs O(1)
    alternatives and a run of spaces is read only from the word before it. The lookahead on the
    alternatives' first letters lets `re` skip every other position without trying them (the
    same matches, 5-15 times faster on text without keywords)."""
    firsts = "".join(sorted({alternative[0].lower() for alternative in alternatives}))
    return re.compile(rf"(?=[{firsts}])\b({'|'.join(alternatives)})\b", re.IGNORECASE)


_MESSENGERS = _keywords(
    "telegram", r"whats\s?app", "viber", "skype", "wechat", "discord", r"signal\s++me", "facebook", "instagram",
    r"vk\.com", r"t\.me", r"wa\.me",
)  # fmt: skip
_ADS = _keywords(
    "discount", r"promo\s?code", "coupon", r"buy\s++now", r"special\s++offer",
    r"our\s++(?:website|app|shop|store|product)s?", r"subscribe\s++to", r"sale\s++ends", r"order\s++now",
    r"download\s++our",
)  # fmt: skip
_OFF_PLATFORM = _keywords(
    r"outside\s++(?:of\s++)?(?:toloka|the\s++platform|this\s++platform)", r"off[-\s]platform",
    r"pay\s++you\s++directly", r"contact\s++me\s++(?:at|on|via)", "hiring", r"job\s++offer", r"vacanc(?:y|ies)",
    r"recruit\w*+", r"we\s++are\s++looking\s++for\s++employees", r"send\s++(?:me\s++)?your\s++(?:cv|resume)",
)  # fmt: skip
# Starts only at "http"; the possessive run is consumed by the match that read it.
_URL = re.compile(r"""https?://[^\s"'<>]++""", re.IGNORECASE)
# Starts only at "data:"; both runs are possessive ('/' and ';' ',' are outside their classes).
_DATA_URI = re.compile(r"""(?=d)\bdata:[a-z]++/[a-z0-9.+-]++[;,]""", re.IGNORECASE)
# The old `<\s*/?\s*` let two `\s*` share the same spaces ("<" and n spaces: O(n²) per "<");
# now the second run of spaces exists only after a "/", and both are possessive.
_TAG = re.compile(r"<\s*+(?:/\s*+)?([A-Za-z][A-Za-z0-9-]*+)")
# A handler inside a tag: after a "<" with no bracket between. The old `<[^>]*\s(on..)` read from
# every "<" to the next ">" (a run of "< " or "<" and spaces: O(n²)); `[^<>]*` stops at the next
# "<", so each character is read from one "<" only, and the same handlers count (the nearest
# bracket before a handler is a "<" exactly when some "<" before it has no ">" in between).
_EVENT_ATTR = re.compile(r"""<[^<>]*\s(on[a-z]++)\s*+=""", re.IGNORECASE)


def _warning(code: str, field: str, message: str, match: str | None = None) -> dict[str, str]:
    warning = {"code": code, "field": field, "message": message}
    if match is not None:
        warning["match"] = match[:200]
    return warning


def _project_link_problem(url: str, public_host: str) -> str | None:
    """Why a link to a project is not in the form Tolokers can open, or None.

    A link `urlsplit` cannot parse (`http://[x`: an unclosed IPv6 host) is no link to a project
    and gets no warning: it must never fail the request."""
    # Cheap test first, so a text of many short links costs a few substring searches per link.
    # `parse_qs` decodes "%70rojectId", hence the "%".
    if "project" not in url.lower() and "%" not in url and public_host not in url:
        return None
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
    except ValueError:
        return None
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


def pattern_warnings(field: str, value: str, visible: str, public_host: str) -> list[dict[str, str]]:
    """The recommendations' checks on one raw text and its visible (markup-free) text.

    Linear in the length of both (see the patterns above); at most one warning per rule."""
    found: list[dict[str, str]] = []
    without_urls = _URL.sub(" ", visible)
    for pattern, code, message in (
        (_EMAIL, "CONTACT_DETAILS", "e-mail addresses are contact details; Tolokers and requesters stay anonymous"),
        (_PHONE, "CONTACT_DETAILS", "phone numbers are contact details; Tolokers and requesters stay anonymous"),
        (_HANDLE, "CONTACT_DETAILS", "messenger or social handles are contact details"),
        (_MESSENGERS, "CONTACT_DETAILS", "do not move the conversation to a messenger or social network"),
        (_ADS, "ADVERTISING", "messages must not advertise websites, apps, products or services"),
        (_OFF_PLATFORM, "OFF_PLATFORM", "do not offer work outside the platform or recruit employees"),
    ):
        if pattern is _EMAIL and "@" not in visible:
            continue  # the same answer, without a pass of the pattern over the text
        match = _phone(without_urls) if pattern is _PHONE else pattern.search(visible)
        if match:
            found.append(_warning(code, field, message, match.group(0).strip()))
    for url in dict.fromkeys(_URL.findall(value)):  # each distinct link once
        problem = _project_link_problem(html.unescape(url), public_host)
        if problem:
            found.append(_warning("PROJECT_LINK", field, problem, url))
            break  # one warning per rule and field, however many links
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


def _check_one(field: str, value: str, public_host: str) -> list[dict[str, str]]:
    return pattern_warnings(field, value, plain_text(value), public_host)


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
