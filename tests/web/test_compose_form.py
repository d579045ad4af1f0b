"""The compose page's form fields -> the API's ComposeForm (crowdpost/web/compose_form.py).

Pure: no database, no server. Every filter built here is also run through the workforce's own
parser (`parse_filter`), so what the page sends is what the API accepts.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from crowdpost.messaging.schemas import SelectType
from crowdpost.web import compose_form as cf
from crowdpost.workforce.filters import parse_filter

TODAY = date(2025, 6, 15)
KEYS = cf.filter_keys([("7", "Good answers", True), ("8", "Speed", False)])


def posted(**fields: Any) -> dict[str, list[str]]:
    """A posted form: single values become one-item lists, as a browser sends them."""
    return {name: value if isinstance(value, list) else [value] for name, value in fields.items()}


def texts(**more: Any) -> dict[str, Any]:
    return {"lang": "EN", "subject": "New instructions", "text": "Please re-read them.", **more}


def build(form: dict[str, list[str]], *, preview: bool = False) -> cf.Built:
    return cf.build_compose(cf.read_fields(form), KEYS, TODAY, preview=preview)


def problems(form: dict[str, list[str]], *, preview: bool = False) -> dict[str, str]:
    with pytest.raises(cf.FormProblems) as caught:
        build(form, preview=preview)
    return caught.value.problems


def filter_form(
    rows: list[tuple[str, str, str, str]], *, groups: list[tuple[str, str]] | None = None, **more: Any
) -> dict[str, list[str]]:
    """rows: (group token, key, op, value); groups: (token, and|or)."""
    groups = groups or [("g0", "and")]
    return posted(
        recipients="FILTER",
        group=[g for g, _ in groups],
        group_match=[m for _, m in groups],
        row=[f"r{i}" for i in range(len(rows))],
        row_group=[r[0] for r in rows],
        key=[r[1] for r in rows],
        op=[r[2] for r in rows],
        value=[r[3] for r in rows],
        **texts(**more),
    )


# --- Individual Tolokers ----------------------------------------------------------------------


def test_to_takes_ids_separated_by_commas_or_spaces_each_once() -> None:
    built = build(posted(recipients="DIRECT", to=" a1, b2 ,b2;c3\n d4 ", answerable="true", **texts()))
    form = built.form
    assert form.recipients_select_type == SelectType.DIRECT
    assert form.recipients_ids == ["a1", "b2", "c3", "d4"]
    assert form.recipients_filter is None
    assert form.topic == {"EN": "New instructions"}
    assert form.text == {"EN": "Please re-read them."}
    assert form.answerable is True


def test_to_names_what_is_not_a_toloker_id() -> None:
    found = problems(posted(recipients="DIRECT", to="good_id, <b>x</b>, a/b", **texts()))
    assert found == {"to": "Not a Toloker ID: <b>x</b>, a/b."}


def test_more_than_100_ids_points_to_group_of_tolokers() -> None:
    ids = " ".join(f"t{i}" for i in range(101))
    assert "use Group of Tolokers for more" in problems(posted(recipients="DIRECT", to=ids, **texts()))["to"]
    assert (
        len(
            build(posted(recipients="DIRECT", to=" ".join(f"t{i}" for i in range(100)), **texts())).form.recipients_ids
            or []
        )
        == 100
    )


def test_empty_to_is_a_problem_on_submit_and_not_ready_in_the_preview() -> None:
    assert problems(posted(recipients="DIRECT", to="  ", **texts())) == {
        "to": "Enter at least one Toloker ID, separated by commas or spaces."
    }
    with pytest.raises(cf.NotReady, match="Enter Toloker IDs"):
        build(posted(recipients="DIRECT", to="", **texts()), preview=True)


# --- Group of Tolokers -------------------------------------------------------------------------


def test_skill_language_and_country_in_one_group() -> None:
    form = build(
        filter_form([("g0", "skill:7", "GTE", "80"), ("g0", "languages", "EQ", "en"), ("g0", "country", "EQ", "gb")])
    ).form
    assert form.recipients_select_type == SelectType.FILTER
    assert form.recipients_ids is None
    assert form.recipients_filter == {
        "and": [
            {"category": "skill", "key": "7", "operator": "GTE", "value": 80},
            {"category": "profile", "key": "languages", "operator": "IN", "value": "EN"},
            {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"},
        ]
    }
    parse_filter(form.recipients_filter)


def test_a_single_condition_is_wrapped_in_a_group() -> None:
    form = build(filter_form([("g0", "gender", "NE", "Female")])).form
    assert form.recipients_filter == {
        "and": [{"category": "profile", "key": "gender", "operator": "NE", "value": "FEMALE"}]
    }


def test_groups_joined_by_the_top_level_choice() -> None:
    rows = [
        ("g0", "country", "EQ", "US"),
        ("g0", "country", "EQ", "GB"),
        ("g1", "skill:8", "LT", "12.5"),
        ("g2", "device_category", "EQ", "smartphone"),
        ("g2", "os_family", "NE", "iOS"),
        ("g2", "client_type", "EQ", "Toloka app"),
    ]
    form = build(filter_form(rows, groups=[("g0", "or"), ("g1", "and"), ("g2", "and")], match="or")).form
    assert form.recipients_filter == {
        "or": [
            {
                "or": [
                    {"category": "profile", "key": "country", "operator": "EQ", "value": "US"},
                    {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"},
                ]
            },
            {"category": "skill", "key": "8", "operator": "LT", "value": Decimal("12.5")},
            {
                "and": [
                    {"category": "computed", "key": "device_category", "operator": "EQ", "value": "SMARTPHONE"},
                    {"category": "computed", "key": "os_family", "operator": "NE", "value": "IOS"},
                    {"category": "computed", "key": "client_type", "operator": "EQ", "value": "TOLOKA_APP"},
                ]
            },
        ]
    }
    parse_filter(form.recipients_filter)


@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("op", list(cf.OPERATORS))
def test_every_key_and_allowed_operator_is_a_filter_the_api_accepts(key: str, op: str) -> None:
    spec = KEYS[key]
    if op not in spec.operators:
        assert problems(filter_form([("g0", key, op, "1")])) == {
            "op-r0": problems(filter_form([("g0", key, op, "1")]))["op-r0"]
        }
        return
    value = spec.choices[0][0] if spec.choices else {"country": "GB", "language": "EN"}.get(spec.kind, "30")
    form = build(filter_form([("g0", key, op, value)])).form
    parse_filter(form.recipients_filter)


def test_city_and_languages_become_in_and_not_in() -> None:
    form = build(filter_form([("g0", "city", "NE", "213"), ("g0", "languages", "NE", "zh-hans")])).form
    assert form.recipients_filter == {
        "and": [
            {"category": "profile", "key": "city", "operator": "NOT_IN", "value": 213},
            {"category": "profile", "key": "languages", "operator": "NOT_IN", "value": "ZH-HANS"},
        ]
    }


@pytest.mark.parametrize(
    ("key", "op", "value", "element", "expected"),
    [
        ("country", "EQ", "Narnia", "value-r0", 'Country is a two-letter country code, such as GB (not "Narnia").'),
        ("citizenship", "EQ", "G1", "value-r0", "two-letter country code"),
        ("skill:7", "GTE", "101", "value-r0", 'A skill value is a number from 0 to 100 (not "101").'),
        ("skill:7", "GTE", "-1", "value-r0", "from 0 to 100"),
        ("skill:7", "GTE", "50.0000001", "value-r0", "from 0 to 100"),
        ("skill:7", "GTE", "NaN", "value-r0", "from 0 to 100"),
        ("gender", "EQ", "other", "value-r0", 'Gender is one of: Male, Female (not "other").'),
        ("age", "GTE", "17.5", "value-r0", "whole number of years"),
        ("age", "GTE", "200", "value-r0", "whole number of years"),
        ("city", "EQ", "Moscow", "value-r0", "region ID"),
        ("languages", "EQ", "English!", "value-r0", "a code such as EN"),
        ("country", "GT", "GB", "op-r0", 'Country takes "is", "is not".'),
        ("age", "NE", "30", "op-r0", "Age takes"),
        ("skill:999", "GTE", "1", "key-r0", "Choose what to filter by."),
        ("nonsense", "EQ", "1", "key-r0", "Choose what to filter by."),
        ("country", "EQ", "", "value-r0", "Enter a value for Country."),
    ],
)
def test_bad_rows_are_named_beside_their_field(key: str, op: str, value: str, element: str, expected: str) -> None:
    found = problems(filter_form([("g0", "country", "EQ", "GB"), ("g0", key, op, value)]))
    element = element.replace("r0", "r1")
    assert list(found) == [element]
    assert expected in found[element]


def test_names_of_choices_are_accepted_as_well_as_codes() -> None:
    form = build(filter_form([("g0", "languages", "EQ", "english"), ("g0", "country", "EQ", "united kingdom")])).form
    assert form.recipients_filter is not None
    assert [c["value"] for c in form.recipients_filter["and"]] == ["EN", "GB"]


def test_filter_without_rows_is_a_problem_on_submit_and_not_ready_in_the_preview() -> None:
    assert "Add at least one filter" in problems(filter_form([]))["filters"]
    assert "Add at least one filter" in problems(filter_form([("g0", "", "EQ", "  ")]))["filters"]
    with pytest.raises(cf.NotReady, match="Add a filter"):
        build(filter_form([]), preview=True)


def test_the_preview_skips_unfinished_rows_and_says_so() -> None:
    built = build(filter_form([("g0", "country", "EQ", "GB"), ("g0", "skill:7", "GTE", "")]), preview=True)
    assert built.form.recipients_filter == {
        "and": [{"category": "profile", "key": "country", "operator": "EQ", "value": "GB"}]
    }
    assert built.notes == ["Filters without a value are not counted yet."]
    # ...but a finished row with a bad value is still named in the preview
    assert "value-r1" in problems(
        filter_form([("g0", "country", "EQ", "GB"), ("g0", "skill:7", "GTE", "x")]), preview=True
    )


def test_a_missing_operator_takes_the_keys_first() -> None:
    form = build(filter_form([("g0", "country", "", "GB")])).form
    assert form.recipients_filter == {
        "and": [{"category": "profile", "key": "country", "operator": "EQ", "value": "GB"}]
    }


# --- age -> date_of_birth ----------------------------------------------------------------------


def _ts(year: int, month: int, day: int) -> int:
    return calendar.timegm(datetime(year, month, day, tzinfo=UTC).timetuple())


def test_birth_bound_is_the_day_after_today_minus_the_years() -> None:
    assert cf.birth_bound(TODAY, 18) == _ts(2007, 6, 16)
    assert cf.birth_bound(date(2024, 2, 29), 1) == _ts(2023, 3, 1)  # 28 Feb 2023 + 1 day


@pytest.mark.parametrize(
    ("op", "years", "born", "matches"),
    [
        ("GTE", 18, (2007, 6, 15, 23), True),  # 18 today, born late in the day
        ("GTE", 18, (2007, 6, 16, 0), False),  # 18 tomorrow
        ("GT", 18, (2007, 6, 15, 0), False),
        ("GT", 18, (2006, 6, 15, 0), True),
        ("LTE", 30, (1994, 6, 16, 0), True),  # 30 tomorrow
        ("LTE", 30, (1994, 6, 15, 0), False),  # 31 today
        ("LT", 30, (1995, 6, 15, 0), False),  # 30 today
        ("LT", 30, (1995, 6, 16, 0), True),
        ("EQ", 30, (1995, 6, 15, 0), True),
        ("EQ", 30, (1994, 6, 16, 0), True),
        ("EQ", 30, (1994, 6, 15, 0), False),
        ("EQ", 30, (1995, 6, 16, 0), False),
    ],
)
def test_age_becomes_birth_timestamps(op: str, years: int, born: tuple[int, int, int, int], matches: bool) -> None:
    form = build(filter_form([("g0", "age", op, str(years))])).form
    assert form.recipients_filter is not None
    parse_filter(form.recipients_filter)
    dob = calendar.timegm(datetime(*born, tzinfo=UTC).timetuple())
    assert _evaluate(form.recipients_filter, dob) is matches


def _evaluate(node: dict[str, Any], dob: int) -> bool:
    """A date_of_birth-only filter evaluated for one birth timestamp."""
    if "and" in node:
        return all(_evaluate(n, dob) for n in node["and"])
    if "or" in node:
        return any(_evaluate(n, dob) for n in node["or"])
    value: int = node["value"]
    return {"LT": dob < value, "GTE": dob >= value, "LTE": dob <= value, "GT": dob > value}[node["operator"]]


def test_ages_worked_out_by_hand() -> None:
    # At most 30 on 15 June 2025: born after 15 June 1994 (who turns 31 today).
    form = build(filter_form([("g0", "age", "LTE", "30")])).form
    assert form.recipients_filter == {
        "and": [{"category": "profile", "key": "date_of_birth", "operator": "GTE", "value": _ts(1994, 6, 16)}]
    }


# --- texts and languages -----------------------------------------------------------------------


def test_two_languages() -> None:
    form = build(
        posted(
            recipients="ALL",
            lang=["EN", "fr"],
            subject=["Hello", "Bonjour"],
            text=["<b>New</b> tasks", "<i>Nouvelles</i> tâches"],
        )
    ).form
    assert form.recipients_select_type == SelectType.ALL
    assert form.recipients_ids is None
    assert form.recipients_filter is None
    assert form.topic == {"EN": "Hello", "FR": "Bonjour"}
    assert form.text == {"EN": "<b>New</b> tasks", "FR": "<i>Nouvelles</i> tâches"}
    assert form.answerable is False


def test_text_problems_name_their_field() -> None:
    found = problems(
        posted(recipients="ALL", lang=["EN", "EN"], subject=["", "x"], text=["  ", "y"]),
    )
    assert found == {
        "subject-0": "Enter a subject.",
        "text-0": "Enter the message text.",
        "lang-1": ("Choose a language the message is not already written in."),
    }
    long = problems(posted(recipients="ALL", lang="EN", subject="s" * 1001, text="t" * 100_001))
    assert long == {
        "subject-0": "The subject is 1,001 characters; at most 1,000.",
        "text-0": "The message is 100,001 characters; at most 100,000.",
    }
    assert problems(posted(recipients="ALL", lang="XX", subject="s", text="t")) == {
        "lang-0": "Choose a language from the list."
    }


def test_the_preview_counts_before_the_texts_are_written() -> None:
    form = build(posted(recipients="ALL", lang="EN", subject="", text=""), preview=True).form
    assert form.topic == {"EN": cf.PREVIEW_SUBJECT}
    assert form.text == {"EN": cf.PREVIEW_TEXT}


# --- reading the posted form and the no-JS buttons ---------------------------------------------


def test_read_fields_keeps_what_was_typed_and_makes_ids_safe() -> None:
    fields = cf.read_fields(
        posted(
            recipients="bogus",
            to="a, b",
            group=["g0", "<x>"],
            group_match=["or"],
            row=["r0", "r0", "r5"],
            row_group=["g0", "nowhere", "g0"],
            key=["country", "languages"],
            op=["EQ", "LIKE", "NE"],
            value=["GB", "EN", "FR"],
            lang=["en"],
            subject=["Hi"],
            text=["<b>x</b>"],
            answerable="true",
        )
    )
    assert fields.recipients == "DIRECT"
    assert fields.to == "a, b"
    assert fields.groups == (cf.Group("g0", "or"), cf.Group("g1", "and"))
    assert fields.rows == (
        cf.Row("r0", "g0", "country", "EQ", "GB"),
        cf.Row("r6", "g1", "languages", "", "EN"),  # duplicate token renewed; unknown group -> the last
        cf.Row("r5", "g0", "", "NE", "FR"),
    )
    assert fields.languages == (cf.Language("EN", "Hi", "<b>x</b>"),)
    assert fields.answerable is True


def test_read_fields_caps_rows_groups_and_languages() -> None:
    fields = cf.read_fields(
        posted(
            group=[f"g{i}" for i in range(20)],
            row=[f"r{i}" for i in range(80)],
            lang=["EN", "FR", "DE"],
            subject=["a", "b", "c"],
            text=["a", "b", "c"],
        )
    )
    assert len(fields.groups) == cf.MAX_GROUPS
    assert len(fields.rows) == cf.MAX_ROWS
    assert len(fields.languages) == cf.MAX_LANGUAGES
    assert cf.read_fields({}).groups == (cf.Group("g0"),)


def test_buttons_without_javascript() -> None:
    fields = cf.ComposeFields()
    fields = cf.apply_action(fields, "add_filter:g0")
    assert fields.recipients == "FILTER"
    assert fields.rows == (cf.Row("r0", "g0"),)
    fields = cf.apply_action(fields, "add_filter")  # no group named: the last one
    fields = cf.apply_action(fields, "add_group")
    assert [g.token for g in fields.groups] == ["g0", "g1"]
    assert [(r.token, r.group) for r in fields.rows] == [("r0", "g0"), ("r1", "g0"), ("r2", "g1")]
    fields = cf.apply_action(fields, "remove_filter:r2")  # g1 is empty now: it goes
    assert [g.token for g in fields.groups] == ["g0"]
    fields = cf.apply_action(fields, "remove_filter:r0")
    fields = cf.apply_action(fields, "remove_filter:r1")
    assert fields.rows == ()
    assert [g.token for g in fields.groups] == ["g0"]
    fields = cf.apply_action(fields, "add_language")
    assert [lang.code for lang in fields.languages] == ["EN", "ES"]
    assert cf.apply_action(fields, "add_language") == fields  # one extra language at most
    assert cf.apply_action(fields, "remove_language").languages == (cf.Language("EN"),)
    assert cf.apply_action(fields, "check") == fields
    assert cf.apply_action(fields, "remove_filter:nothing") == fields


def test_row_and_group_limits_hold_for_the_buttons() -> None:
    fields = cf.ComposeFields(rows=tuple(cf.Row(f"r{i}", "g0") for i in range(cf.MAX_ROWS)))
    assert cf.apply_action(fields, "add_filter:g0") == fields
    assert cf.apply_action(fields, "add_group") == fields


# --- the service's answers, placed beside the fields --------------------------------------------


def test_service_errors_and_warnings_go_beside_their_fields() -> None:
    fields = cf.ComposeFields(languages=(cf.Language("EN"), cf.Language("FR")))
    assert cf.field_id("text.FR", fields) == "text-1"
    assert cf.field_id("topic.EN", fields) == "subject-0"
    assert cf.field_id("recipients_filter.and.0.value", fields) == "filters"
    assert cf.field_id("recipients_ids", fields) == "to"
    assert cf.field_id("recipients", fields) == "recipients"
    assert cf.field_id("something", fields) == "form"
    found = cf.problems_from_service(
        {"recipients_ids": {"code": "ENTITY_DOES_NOT_EXIST", "message": "unknown Tolokers: x"}},
        "Validation failed",
        fields,
    )
    assert found == {"to": "Unknown Tolokers: x."}
    assert cf.problems_from_service({}, "no recipients", fields) == {"form": "No recipients."}
    grouped = cf.warnings_by_field(
        [
            {"code": "CONTACT_DETAILS", "field": "text.FR", "message": "e-mail addresses are contact details"},
            {"code": "ADVERTISING", "field": "text.FR", "message": "no ads"},
            {"code": "PROJECT_LINK", "field": "topic.EN", "message": "project links must look like x"},
        ],
        fields,
    )
    assert [w["code"] for w in grouped["text-1"]] == ["CONTACT_DETAILS", "ADVERTISING"]
    assert grouped["text-1"][0]["message"] == "E-mail addresses are contact details."
    assert list(grouped) == ["text-1", "subject-0"]


def test_preview_sentence() -> None:
    dry_run = {
        "recipients_count": 1234,
        "excluded": {"banned": 1, "unknown": 2, "banned_ids": ["b"], "unknown_ids": ["u1", "u2"]},
    }
    preview = cf.preview_of(dry_run)
    assert preview.summary == "1,234 Tolokers will receive this; 1 banned and 2 unknown left out"
    assert preview.banned_ids == ["b"]
    assert preview.unknown_ids == ["u1", "u2"]
    assert cf.preview_of({"recipients_count": 1, "excluded": {}}).summary.startswith("1 Toloker will receive this;")
    capped = cf.preview_of(
        {
            "recipients_count": 5,
            "excluded": {"banned": 1, "unknown": 0, "capped": 2, "capped_reason": "already received 3 bulk messages"},
        }
    )
    assert capped.summary == "5 Tolokers will receive this; 1 banned, 0 unknown and 2 over the bulk cap left out"
    assert capped.capped_reason == "already received 3 bulk messages"
