"""The compose page's form fields -> the API's `ComposeForm`, filter JSON included. Pure: no
database, no HTTP, no clock (the caller passes `today`).

The page posts flat, repeated fields (so rows added by the browser and rows added by the server
after "+ Add filter" look the same):

    recipients      DIRECT | FILTER | ALL (the radio buttons)
    to              Toloker IDs separated by commas or spaces
    match           the top-level "and" / "or" between groups
    group, group_match                     one of each per group, in order
    row, row_group, key, op, value         one of each per filter row, in order
    lang, subject, text                    one of each per language (one, or two with "+ Add language")
    answerable      "true" when "Allows replies" is checked
    action          send | check | add_filter:<group> | add_group | remove_filter:<row>
                    | add_language | remove_language   (the buttons that work without JavaScript)

`read_fields` keeps what was typed (the page re-renders it after an error), `apply_action` does
what a no-JS button asks, and `build_compose` turns the fields into a `ComposeForm` or raises
`FormProblems` (page element id -> one sentence). The messages say what to do, in the page's
words; the service still checks everything again (it is the same call as the API).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from crowdpost.messaging.schemas import DIRECT_MAX_RECIPIENTS, TEXT_MAX_CHARS, TOPIC_MAX_CHARS, ComposeForm, SelectType
from crowdpost.web.posted import FormValues, first_value
from crowdpost.workforce.profile import ClientType, DeviceCategory, Education, Gender, OsFamily

RECIPIENT_CHOICES = (
    ("DIRECT", "Individual Tolokers"),
    ("FILTER", "Group of Tolokers"),
    ("ALL", "Tolokers who started at least two of your tasks"),
)
MAX_GROUPS = 10
MAX_ROWS = 50
MAX_LANGUAGES = 2  # the message's language and an optional second one
TO_MAX_CHARS = 10_000
VALUE_MAX_CHARS = 64
TOLOKER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
TOKEN = re.compile(r"[a-z][a-z0-9]{0,15}")
AGE_MAX = 130

# The operators a row offers, in the words the page shows. Membership keys (languages, city)
# take "is" / "is not" too: they become IN / NOT_IN in the filter.
OPERATORS = {
    "EQ": "is",
    "NE": "is not",
    "GTE": "is at least",
    "GT": "is more than",
    "LTE": "is at most",
    "LT": "is less than",
}
EQUALITY_OPS = ("EQ", "NE")
ORDERED_OPS = ("GTE", "GT", "LTE", "LT", "EQ", "NE")
AGE_OPS = ("GTE", "GT", "LTE", "LT", "EQ")

LANGUAGES: tuple[tuple[str, str], ...] = (
    ("EN", "English"), ("ES", "Spanish"), ("FR", "French"), ("DE", "German"), ("PT", "Portuguese"),
    ("IT", "Italian"), ("RU", "Russian"), ("UK", "Ukrainian"), ("PL", "Polish"), ("NL", "Dutch"),
    ("TR", "Turkish"), ("AR", "Arabic"), ("HE", "Hebrew"), ("FA", "Persian"), ("HI", "Hindi"),
    ("BN", "Bengali"), ("UR", "Urdu"), ("ID", "Indonesian"), ("MS", "Malay"), ("TL", "Tagalog"),
    ("VI", "Vietnamese"), ("TH", "Thai"), ("ZH-HANS", "Chinese (Simplified)"),
    ("ZH-HANT", "Chinese (Traditional)"), ("JA", "Japanese"), ("KO", "Korean"), ("KK", "Kazakh"),
    ("UZ", "Uzbek"), ("SW", "Swahili"), ("RO", "Romanian"), ("EL", "Greek"), ("SV", "Swedish"),
)  # fmt: skip
LANGUAGE_NAMES = dict(LANGUAGES)
# Suggestions only: any ISO 3166-1 alpha-2 code is accepted.
COUNTRIES: tuple[tuple[str, str], ...] = (
    ("US", "United States"), ("GB", "United Kingdom"), ("CA", "Canada"), ("AU", "Australia"),
    ("IN", "India"), ("ID", "Indonesia"), ("PH", "Philippines"), ("VN", "Vietnam"), ("TH", "Thailand"),
    ("MY", "Malaysia"), ("PK", "Pakistan"), ("BD", "Bangladesh"), ("BR", "Brazil"), ("MX", "Mexico"),
    ("AR", "Argentina"), ("CO", "Colombia"), ("ES", "Spain"), ("FR", "France"), ("DE", "Germany"),
    ("IT", "Italy"), ("PT", "Portugal"), ("NL", "Netherlands"), ("PL", "Poland"), ("UA", "Ukraine"),
    ("RU", "Russia"), ("BY", "Belarus"), ("KZ", "Kazakhstan"), ("UZ", "Uzbekistan"), ("TR", "Turkey"),
    ("EG", "Egypt"), ("NG", "Nigeria"), ("KE", "Kenya"), ("ZA", "South Africa"), ("JP", "Japan"),
    ("KR", "South Korea"), ("AE", "United Arab Emirates"),
)  # fmt: skip


def _labels(enum: Iterable[str], **special: str) -> tuple[tuple[str, str], ...]:
    return tuple((value, special.get(value, value.replace("_", " ").capitalize())) for value in enum)


@dataclass(frozen=True)
class FilterKey:
    """One choice of a row's "Filter" select: what the page shows and what the filter JSON says."""

    value: str  # the <option> value: "country", "skill:12"
    label: str
    group: str  # the <optgroup>
    category: str  # skill | profile | computed
    key: str  # the filter JSON's key (the skill id for skills)
    operators: tuple[str, ...]
    kind: str  # skill | age | int | country | language | enum
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) suggestions; for "enum" the only values
    hint: str = ""

    @property
    def list_id(self) -> str:
        """The <datalist> of suggested values, or "" for numbers."""
        if self.kind in ("country", "language"):
            return f"values-{self.kind}"
        return f"values-{self.value}" if self.kind == "enum" else ""

    @property
    def inputmode(self) -> str:
        return {"skill": "decimal", "age": "numeric", "int": "numeric"}.get(self.kind, "text")


PROFILE_KEYS: tuple[FilterKey, ...] = (
    FilterKey("languages", "Languages", "Profile", "profile", "languages", EQUALITY_OPS, "language", LANGUAGES,
              "A language code, such as EN"),
    FilterKey("country", "Country", "Profile", "profile", "country", EQUALITY_OPS, "country", COUNTRIES,
              "A two-letter country code, such as GB"),
    FilterKey("citizenship", "Citizenship", "Profile", "profile", "citizenship", EQUALITY_OPS, "country", COUNTRIES,
              "A two-letter country code, such as GB"),
    FilterKey("city", "City", "Profile", "profile", "city", EQUALITY_OPS, "int", (),
              "The city's region ID, such as 213"),
    FilterKey("gender", "Gender", "Profile", "profile", "gender", EQUALITY_OPS, "enum", _labels(Gender)),
    FilterKey("age", "Age", "Profile", "profile", "date_of_birth", AGE_OPS, "age", (), "In years, such as 18"),
    FilterKey("education", "Education", "Profile", "profile", "education", EQUALITY_OPS, "enum", _labels(Education)),
    FilterKey("device_category", "Device category", "Device", "computed", "device_category", EQUALITY_OPS, "enum",
              _labels(DeviceCategory, PERSONAL_COMPUTER="Personal computer")),
    FilterKey("os_family", "OS family", "Device", "computed", "os_family", EQUALITY_OPS, "enum",
              _labels(OsFamily, OS_X="OS X", MAC_OS="macOS", IOS="iOS", BSD="BSD", BLACKBERRY="BlackBerry")),
    FilterKey("client_type", "Client type", "Device", "computed", "client_type", EQUALITY_OPS, "enum",
              _labels(ClientType, TOLOKA_APP="Toloka app")),
)  # fmt: skip


def skill_key(skill_id: str, name: str, *, hidden: bool) -> FilterKey:
    label = f"{name} (hidden)" if hidden else name
    return FilterKey(
        f"skill:{skill_id}", label, "Your skills", "skill", skill_id, ORDERED_OPS, "skill", (), "From 0 to 100"
    )


def filter_keys(skills: Iterable[tuple[str, str, bool]]) -> dict[str, FilterKey]:
    """Every choice of the "Filter" select: the requester's skills (hidden ones too), then profile
    and device keys. `skills` is (id, name, hidden)."""
    keys = {k.value: k for k in (skill_key(sid, name, hidden=hidden) for sid, name, hidden in skills)}
    keys.update((k.value, k) for k in PROFILE_KEYS)
    return keys


def key_groups(keys: Mapping[str, FilterKey]) -> list[tuple[str, list[FilterKey]]]:
    """The choices under their <optgroup> labels, in the order given (skills first)."""
    groups: dict[str, list[FilterKey]] = {}
    for key in keys.values():
        groups.setdefault(key.group, []).append(key)
    return list(groups.items())


def datalists(keys: Mapping[str, FilterKey]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Each <datalist> the rows use: id -> (value, label) suggestions."""
    return {key.list_id: key.choices for key in keys.values() if key.list_id and key.choices}


# --- the fields as posted -----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    token: str  # this row's id in the page: "r0", or one the browser made
    group: str  # its group's token
    key: str = ""  # a FilterKey.value, or "" before one is chosen
    op: str = ""
    value: str = ""

    @property
    def is_blank(self) -> bool:
        return not self.key and not self.value.strip()


@dataclass(frozen=True)
class Group:
    token: str
    match: str = "and"


@dataclass(frozen=True)
class Language:
    code: str
    subject: str = ""
    text: str = ""


@dataclass(frozen=True)
class ComposeFields:
    """Everything the form shows; re-rendered as posted, so nothing typed is lost."""

    recipients: str = "DIRECT"
    to: str = ""
    match: str = "and"
    groups: tuple[Group, ...] = (Group("g0"),)
    rows: tuple[Row, ...] = ()
    languages: tuple[Language, ...] = (Language("EN"),)
    answerable: bool = False

    def rows_of(self, group: str) -> list[Row]:
        return [row for row in self.rows if row.group == group]

    @property
    def second_language(self) -> Language | None:
        return self.languages[1] if len(self.languages) > 1 else None


class FormProblems(Exception):
    """What is wrong with the form: page element id -> one sentence (the page shows each beside
    its field, and all of them in the summary at the top)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = dict(problems)


def _many(form: FormValues, name: str) -> list[str]:
    return list(form.get(name) or ())


def _tokens(raw: Sequence[str], prefix: str) -> list[str]:
    """The posted tokens, each made safe and unique (they become element ids)."""
    seen: set[str] = set()
    result: list[str] = []
    for value in raw:
        token = value if TOKEN.fullmatch(value) and value not in seen else _new_token(prefix, seen | set(raw))
        seen.add(token)
        result.append(token)
    return result


def _new_token(prefix: str, taken: Iterable[str]) -> str:
    numbers = [int(t[len(prefix) :]) for t in taken if t.startswith(prefix) and t[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=-1) + 1}"


def read_fields(form: FormValues) -> ComposeFields:
    """The posted form as the page shows it (nothing validated yet, nothing dropped but excess)."""
    recipients = first_value(form, "recipients", "DIRECT")
    if recipients not in {"DIRECT", "FILTER", "ALL"}:
        recipients = "DIRECT"
    group_tokens = _tokens(_many(form, "group")[:MAX_GROUPS], "g")
    group_matches = _many(form, "group_match")
    groups = tuple(
        Group(token, _match(group_matches[i] if i < len(group_matches) else "and"))
        for i, token in enumerate(group_tokens)
    ) or (Group("g0"),)
    known_groups = {g.token for g in groups}
    row_tokens = _tokens(_many(form, "row")[:MAX_ROWS], "r")
    columns = [_many(form, name) for name in ("row_group", "key", "op", "value")]
    rows = []
    for i, token in enumerate(row_tokens):
        group, key, op, value = (column[i] if i < len(column) else "" for column in columns)
        rows.append(
            Row(
                token,
                group if group in known_groups else groups[-1].token,
                key[:40],
                op if op in OPERATORS else "",
                value[:VALUE_MAX_CHARS],
            )
        )
    codes, subjects, texts = _many(form, "lang"), _many(form, "subject"), _many(form, "text")
    count = max(1, min(MAX_LANGUAGES, max(len(codes), len(subjects), len(texts))))
    languages = tuple(
        Language(
            (codes[i] if i < len(codes) else "").strip().upper()[:8] or "EN",
            subjects[i] if i < len(subjects) else "",
            texts[i] if i < len(texts) else "",
        )
        for i in range(count)
    )
    return ComposeFields(
        recipients=recipients,
        to=first_value(form, "to")[:TO_MAX_CHARS],
        match=_match(first_value(form, "match", "and")),
        groups=groups,
        rows=tuple(rows),
        languages=languages,
        answerable=first_value(form, "answerable") in {"true", "on", "1", "yes"},
    )


def _match(value: str) -> str:
    return "or" if value == "or" else "and"


def next_row_token(fields: ComposeFields) -> str:
    """The token the next row gets (the no-JS "+ Add filter" jumps to it after the reload)."""
    return _new_token("r", (r.token for r in fields.rows))


def apply_action(fields: ComposeFields, action: str) -> ComposeFields:
    """What a button that works without JavaScript asks for; anything else changes nothing."""
    verb, _, target = action.partition(":")
    if verb == "add_filter" and len(fields.rows) < MAX_ROWS:
        group = target if any(g.token == target for g in fields.groups) else fields.groups[-1].token
        row = Row(next_row_token(fields), group)
        return replace(fields, recipients="FILTER", rows=(*fields.rows, row))
    if verb == "add_group" and len(fields.groups) < MAX_GROUPS and len(fields.rows) < MAX_ROWS:
        new_group = Group(_new_token("g", (g.token for g in fields.groups)))
        row = Row(next_row_token(fields), new_group.token)
        return replace(fields, recipients="FILTER", groups=(*fields.groups, new_group), rows=(*fields.rows, row))
    if verb == "remove_filter":
        rows = tuple(r for r in fields.rows if r.token != target)
        # A group left without rows goes too, unless it is the only one.
        groups = tuple(g for g in fields.groups if any(r.group == g.token for r in rows)) or fields.groups[:1]
        return replace(fields, rows=rows, groups=groups)
    if verb == "add_language" and len(fields.languages) < MAX_LANGUAGES:
        first = fields.languages[0].code
        code = next(c for c, _ in LANGUAGES if c != first)
        return replace(fields, languages=(*fields.languages, Language(code)))
    if verb == "remove_language":
        return replace(fields, languages=fields.languages[:1])
    return fields


# --- the fields -> ComposeForm ----------------------------------------------------------------

# Stand-ins for texts not written yet, so the preview counts recipients from the first field on
# (the dry run checks texts too). They trigger no policy warning.
PREVIEW_SUBJECT = "Subject"
PREVIEW_TEXT = "Message text"


@dataclass(frozen=True)
class Built:
    form: ComposeForm
    notes: list[str] = field(default_factory=list)  # what the preview did not count yet


class NotReady(Exception):
    """The preview has nothing to count yet (no IDs, no filter): one sentence saying what to do."""


def split_ids(text: str) -> list[str]:
    """Toloker IDs from the To field: separated by commas, semicolons or spaces; repeats once."""
    return list(dict.fromkeys(part for part in re.split(r"[\s,;]+", text) if part))


def build_compose(fields: ComposeFields, keys: Mapping[str, FilterKey], today: date, *, preview: bool = False) -> Built:
    """The API's ComposeForm for these fields, or FormProblems.

    `preview=True` is the live dry run while the form is being filled: blank texts get
    stand-ins and unfinished filter rows are skipped (and said so) instead of being problems;
    NotReady when there is nothing to count yet."""
    problems: dict[str, str] = {}
    notes: list[str] = []
    topic, text = _texts(fields, problems, preview=preview)
    ids: list[str] | None = None
    recipients_filter: dict[str, Any] | None = None
    if fields.recipients == "DIRECT":
        ids = _direct_ids(fields.to, problems, preview=preview)
    elif fields.recipients == "FILTER":
        recipients_filter = _filter(fields, keys, today, problems, notes, preview=preview)
    if problems:
        raise FormProblems(problems)
    try:
        form = ComposeForm(
            recipients_select_type=SelectType(fields.recipients),
            topic=topic,
            text=text,
            answerable=fields.answerable,
            recipients_ids=ids,
            recipients_filter=recipients_filter,
        )
    except ValidationError as exc:  # every limit is checked above; this is the last guard
        raise FormProblems({"form": f"The message could not be read: {exc.errors()[0]['msg']}."}) from exc
    return Built(form, notes)


def _texts(fields: ComposeFields, problems: dict[str, str], *, preview: bool) -> tuple[dict[str, str], dict[str, str]]:
    topic: dict[str, str] = {}
    text: dict[str, str] = {}
    for i, lang in enumerate(fields.languages):
        if lang.code not in LANGUAGE_NAMES:
            problems[f"lang-{i}"] = "Choose a language from the list."
            continue
        if lang.code in topic:
            problems[f"lang-{i}"] = "Choose a language the message is not already written in."
            continue
        subject, body = lang.subject.strip(), lang.text.strip()
        if len(lang.subject) > TOPIC_MAX_CHARS:
            problems[f"subject-{i}"] = f"The subject is {len(lang.subject):,} characters; at most {TOPIC_MAX_CHARS:,}."
        elif not subject and not preview:
            problems[f"subject-{i}"] = "Enter a subject."
        if len(lang.text) > TEXT_MAX_CHARS:
            problems[f"text-{i}"] = f"The message is {len(lang.text):,} characters; at most {TEXT_MAX_CHARS:,}."
        elif not body and not preview:
            problems[f"text-{i}"] = "Enter the message text."
        topic[lang.code] = lang.subject if subject else PREVIEW_SUBJECT
        text[lang.code] = lang.text if body else PREVIEW_TEXT
    return topic, text


def _direct_ids(to: str, problems: dict[str, str], *, preview: bool) -> list[str]:
    ids = split_ids(to)
    if not ids:
        if preview:
            raise NotReady("Enter Toloker IDs in To to see who receives this.")
        problems["to"] = "Enter at least one Toloker ID, separated by commas or spaces."
        return ids
    malformed = [i for i in ids if not TOLOKER_ID.fullmatch(i)]
    if malformed:
        problems["to"] = (
            "Not a Toloker ID: "
            + ", ".join(_shorten(i) for i in malformed[:5])
            + (f" and {len(malformed) - 5} more." if len(malformed) > 5 else ".")
        )
    elif len(ids) > DIRECT_MAX_RECIPIENTS:
        problems["to"] = (
            f"To takes at most {DIRECT_MAX_RECIPIENTS} Tolokers ({len(ids)} entered); use Group of Tolokers for more."
        )
    return ids


def _shorten(text: str) -> str:
    return text if len(text) <= 24 else text[:23] + "…"


def build_filter(
    fields: ComposeFields, keys: Mapping[str, FilterKey], today: date, *, preview: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The filter JSON of the form's groups and rows, and notes on what a preview skipped: the
    filter builder on its own, for the pages that use it without a message (Rewards -> Pay a
    group); `build_compose` makes the same filter through the same code. Raises FormProblems,
    or NotReady for a preview with no finished row yet."""
    problems: dict[str, str] = {}
    notes: list[str] = []
    recipients_filter = _filter(fields, keys, today, problems, notes, preview=preview)
    if problems or recipients_filter is None:
        raise FormProblems(problems or {"filters": "Add at least one filter (+ Add filter)."})
    return recipients_filter, notes


def _filter(
    fields: ComposeFields,
    keys: Mapping[str, FilterKey],
    today: date,
    problems: dict[str, str],
    notes: list[str],
    *,
    preview: bool,
) -> dict[str, Any] | None:
    groups: list[dict[str, Any]] = []
    unfinished = 0
    for group in fields.groups:
        conditions: list[dict[str, Any]] = []
        for row in fields.rows_of(group.token):
            if row.is_blank:
                continue
            if preview and (not row.key or not row.value.strip()):
                unfinished += 1
                continue
            condition = _condition(row, keys, today, problems)
            if condition is not None:
                conditions.append(condition)
        if conditions:
            groups.append(conditions[0] if len(conditions) == 1 else {group.match: conditions})
    if unfinished:
        notes.append("Filters without a value are not counted yet.")
    if problems:
        return None
    if not groups:
        if preview:
            raise NotReady("Add a filter to see who receives this.")
        problems["filters"] = "Add at least one filter (+ Add filter), or choose other recipients."
        return None
    if len(groups) == 1:
        only = groups[0]
        return only if _is_group(only) else {"and": [only]}
    return {fields.match: groups}


def _is_group(node: Mapping[str, Any]) -> bool:
    return len(node) == 1 and next(iter(node)) in ("and", "or")


def _condition(row: Row, keys: Mapping[str, FilterKey], today: date, problems: dict[str, str]) -> dict[str, Any] | None:
    spec = keys.get(row.key)
    if spec is None:
        problems[f"key-{row.token}"] = "Choose what to filter by."
        return None
    op = row.op or spec.operators[0]
    if op not in spec.operators:
        allowed = ", ".join(f'"{OPERATORS[o]}"' for o in spec.operators)
        problems[f"op-{row.token}"] = f"{spec.label} takes {allowed}."
        return None
    raw = row.value.strip()
    if not raw:
        problems[f"value-{row.token}"] = f"Enter a value for {spec.label}."
        return None
    value = _parse_value(spec, raw)
    if value is None:
        problems[f"value-{row.token}"] = _value_problem(spec, raw)
        return None
    if spec.kind == "age":
        return _age_condition(op, value, today)
    operator = {"EQ": "IN", "NE": "NOT_IN"}[op] if spec.key in ("languages", "city") else op
    return {"category": spec.category, "key": spec.key, "operator": operator, "value": value}


def _parse_value(spec: FilterKey, raw: str) -> Any:
    """The filter JSON's value for what was typed, or None when it is not one."""
    if spec.kind in ("skill", "age", "int"):
        try:
            number = Decimal(raw.replace(",", "."))
        except InvalidOperation:
            return None
        if not number.is_finite() or number < 0:
            return None
        if spec.kind == "skill":
            exponent = number.normalize().as_tuple().exponent
            if number > 100 or (isinstance(exponent, int) and exponent < -6):  # values are stored in millionths
                return None
            return int(number) if number == number.to_integral_value() else number
        if number != number.to_integral_value() or number > (AGE_MAX if spec.kind == "age" else 2**31 - 1):
            return None
        return int(number)
    text = raw.casefold()
    for value, label in spec.choices:
        if text in (value.casefold(), label.casefold()):
            return value
    if spec.kind == "enum":
        return None
    code = raw.upper()
    if spec.kind == "country":
        return code if len(code) == 2 and code.isascii() and code.isalpha() else None
    head, _, tail = code.partition("-")  # language: EN, ZH-HANS
    ok = len(head) == 2 and head.isascii() and head.isalpha() and (not tail or (tail.isascii() and tail.isalpha()))
    return code if ok and len(code) <= 8 else None


def _value_problem(spec: FilterKey, raw: str) -> str:
    shown = _shorten(raw)
    if spec.kind == "enum":
        return f"{spec.label} is one of: " + ", ".join(label for _, label in spec.choices) + f' (not "{shown}").'
    return {
        "skill": f'A skill value is a number from 0 to 100 (not "{shown}").',
        "age": f'Age is a whole number of years from 0 to {AGE_MAX} (not "{shown}").',
        "int": f'{spec.label} is a region ID, a whole number (not "{shown}").',
        "country": f'{spec.label} is a two-letter country code, such as GB (not "{shown}").',
        "language": f'A language is a code such as EN or ZH-HANS (not "{shown}").',
    }[spec.kind]


def birth_bound(today: date, years: int) -> int:
    """Unix seconds of the day after `today` minus `years` years (UTC midnight): Tolokers born
    before it are at least `years` old today, whatever time of day their birth is stored at."""
    year = today.year - years
    day = min(today.day, calendar.monthrange(year, today.month)[1])  # 29 Feb -> 28 Feb
    return calendar.timegm((date(year, today.month, day) + timedelta(days=1)).timetuple())


def _age_condition(op: str, years: int, today: date) -> dict[str, Any]:
    """Age in years -> date_of_birth conditions (Toloka filters compare the birth timestamp)."""

    def born(operator: str, bound_years: int) -> dict[str, Any]:
        return {
            "category": "profile",
            "key": "date_of_birth",
            "operator": operator,
            "value": birth_bound(today, bound_years),
        }

    if op == "GTE":  # at least n: born before the day after today-n years
        return born("LT", years)
    if op == "GT":  # at least n+1
        return born("LT", years + 1)
    if op == "LTE":  # under n+1
        return born("GTE", years + 1)
    if op == "LT":  # under n
        return born("GTE", years)
    return {"and": [born("LT", years), born("GTE", years + 1)]}  # exactly n


# --- service answers -> the page's fields -------------------------------------------------------


def field_id(service_field: str, fields: ComposeFields) -> str:
    """The page element a service error or policy warning is about: "text.EN" -> "text-0"."""
    name, _, lang = service_field.partition(".")
    if name in ("topic", "text"):
        for i, language in enumerate(fields.languages):
            if language.code == lang:
                return f"{'subject' if name == 'topic' else 'text'}-{i}"
        return "subject-0" if name == "topic" else "text-0"
    if name == "recipients_ids":
        return "to"
    if name == "recipients_filter":
        return "filters"
    if name in ("recipients", "recipients_select_type"):
        return "recipients"
    return "form"


def problems_from_service(errors: Mapping[str, Any], message: str, fields: ComposeFields) -> dict[str, str]:
    """A ValidationFailed's field errors as sentences beside the page's fields."""
    problems: dict[str, str] = {}
    for name, error in errors.items():
        text = error.get("message", "") if isinstance(error, Mapping) else str(error)
        problems.setdefault(field_id(name, fields), sentence(text or message))
    return problems or {"form": sentence(message)}


def warnings_by_field(warnings: Iterable[Mapping[str, str]], fields: ComposeFields) -> dict[str, list[dict[str, str]]]:
    """The dry run's policy warnings grouped by the page element they concern."""
    grouped: dict[str, list[dict[str, str]]] = {}
    for warning in warnings:
        shown = {**warning, "message": sentence(warning.get("message", ""))}
        grouped.setdefault(field_id(warning.get("field", ""), fields), []).append(shown)
    return grouped


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass(frozen=True)
class Preview:
    """The dry run as the page words it."""

    count: int
    banned: int
    unknown: int
    banned_ids: list[str]
    unknown_ids: list[str]
    capped: int = 0  # over the weekly bulk cap (FILTER, ALL)
    capped_reason: str = ""

    @property
    def summary(self) -> str:
        tolokers = "Toloker" if self.count == 1 else "Tolokers"
        left_out = f"{self.banned:,} banned and {self.unknown:,} unknown left out"
        if self.capped:
            capped = f"{self.capped:,} over the bulk cap"
            left_out = f"{self.banned:,} banned, {self.unknown:,} unknown and {capped} left out"
        return f"{self.count:,} {tolokers} will receive this; {left_out}"


def preview_of(dry_run: Mapping[str, Any]) -> Preview:
    excluded = dry_run.get("excluded") or {}
    return Preview(
        count=int(dry_run.get("recipients_count", 0)),
        banned=int(excluded.get("banned", 0)),
        unknown=int(excluded.get("unknown", 0)),
        banned_ids=list(excluded.get("banned_ids") or []),
        unknown_ids=list(excluded.get("unknown_ids") or []),
        capped=int(excluded.get("capped", 0)),
        capped_reason=str(excluded.get("capped_reason") or ""),
    )
