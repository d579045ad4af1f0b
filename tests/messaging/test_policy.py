"""Policy checks and sanitizing, and the search query parser (no database)."""

from __future__ import annotations

import pytest

from crowdpost.errors import ValidationFailed
from crowdpost.messaging.policy import check_policy, plain_text, raise_if_strict, sanitize_html
from crowdpost.messaging.search import _fts5_query, _pg_query, parse_query

HOST = "we.toloka.ai"


def codes(text: str) -> list[str]:
    return [w["code"] for w in check_policy(None, {"EN": text}, HOST)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks for the great work on the pool!", []),
        ("Write to john.doe@example.org", ["CONTACT_DETAILS"]),
        ("Call me: +44 20 7946 0958", ["CONTACT_DETAILS"]),
        ("ping @john_smith", ["CONTACT_DETAILS"]),
        ("Find us on WhatsApp", ["CONTACT_DETAILS"]),
        ("Use promo code SAVE10 in our shop", ["ADVERTISING"]),
        ("We are hiring annotators, send your CV", ["OFF_PLATFORM"]),
        ("Let's do this outside Toloka", ["OFF_PLATFORM"]),
        ("New tasks: https://we.toloka.ai/tasks?projectId=112233", []),
        ("See https://platform.toloka.ai/requester/project/112233", ["PROJECT_LINK"]),
        ("See https://we.toloka.ai/tasks?projectId=abc", ["PROJECT_LINK"]),
        ("Photo: https://imgur.com/a/xyz", []),
        ('<img src="data:image/png;base64,iVBOR">', ["ATTACHMENT"]),
        ("<video src=x></video>", ["UNSUPPORTED_HTML"]),
        ('<a href="#" onclick="x()">go</a>', ["UNSUPPORTED_HTML"]),
        ("<p><b>bold</b> <table><tr><td>ok</td></tr></table></p>", []),
        ("Pool 1234567 finished in 2024-07-01", []),
        # Realistic texts near the edges of the (now linear) patterns: the same answers as before.
        ("Mail a.b+c@mail.example.co.uk today", ["CONTACT_DETAILS"]),
        ("Reach me at (555) 123-4567.", ["CONTACT_DETAILS"]),
        ("Order 12345678901234567890 shipped", []),
        ("Tasks 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 done", []),
        ("Ticket 555-1234/abc", []),
        ("See 2024-07-01 10:00-12:00", []),
        ("Discord server and Signal   me later", ["CONTACT_DETAILS"]),
        ("Buy    now and save", ["ADVERTISING"]),
        ("We are recruiting taggers", ["OFF_PLATFORM"]),
        ("a < b and c > d onclick=1", []),
        ("<b>x</b> onclick=1", []),
        ("x <a href=#\nONMOUSEOVER = 'y'>", ["UNSUPPORTED_HTML"]),
        ("< / script >", ["UNSUPPORTED_HTML"]),
        ("email me: someone at example dot com", []),
        ("ping @ab and mail@ab", []),
        # urlsplit raises on these: no crash, and no link to a project.
        ("See http://[x", []),
        ("See https://[::1/project?projectId=1 and http://a]b/project", []),
    ],
)
def test_policy_rules(text: str, expected: list[str]) -> None:
    assert codes(text) == expected


def test_topic_is_checked_and_strict_mode_names_fields() -> None:
    warnings = check_policy({"EN": "mail a@b.io"}, {"EN": "fine", "DE": "Telegram"}, HOST)

    assert [w["field"] for w in warnings] == ["topic.EN", "text.DE"]
    with pytest.raises(ValidationFailed) as caught:
        raise_if_strict(warnings, strict=True)
    assert set(caught.value.payload) == {"topic.EN", "text.DE"}
    raise_if_strict(warnings, strict=False)


def test_warnings_name_what_they_found_once_per_rule() -> None:
    warnings = check_policy(
        None,
        {"EN": "x" * 5000 + " john.doe@example.org, +44 20 7946 0958, https://a.io/project/1 https://b.io/project/2"},
        HOST,
    )

    assert [(w["code"], w.get("match")) for w in warnings] == [
        ("CONTACT_DETAILS", "john.doe@example.org"),
        ("CONTACT_DETAILS", "+44 20 7946 0958"),
        ("PROJECT_LINK", "https://a.io/project/1"),
    ]


def test_sanitizer_keeps_the_allowed_subset_only() -> None:
    dirty = (
        '<h1 style="color:red;position:fixed">T</h1><script>alert(1)</script><style>*{}</style>'
        '<a href="javascript:alert(1)">x</a><a href="https://ok.example/">y</a><iframe src=x></iframe>'
        '<img src="x" onerror="alert(1)"><span onmouseover=x>z</span>'
    )
    clean = sanitize_html(dirty)

    assert clean == (
        '<h1 style="color:red">T</h1><a rel="noopener noreferrer">x</a>'
        '<a href="https://ok.example/" rel="noopener noreferrer">y</a><img src="x"><span>z</span>'
    )
    assert plain_text("<b>a</b> &amp; b <script>c</script>") == "a & b "


def test_query_parser_quotes_everything() -> None:
    assert parse_query('tight "bounding box" NEAR(') == [["tight"], ["bounding", "box"], ["NEAR"]]
    assert _fts5_query([["a"], ["b", "c"]]) == '"a" AND "b c"'
    assert _pg_query([["a"], ["b", "c"], ["or"]]) == '"a" "b c" "or"'
    with pytest.raises(ValidationFailed):
        parse_query('"" *')
    with pytest.raises(ValidationFailed):
        parse_query("x" * 201)
    assert len(parse_query(" ".join(["w"] * 20))) == 20
    with pytest.raises(ValidationFailed) as too_many:
        parse_query(" ".join(["w"] * 21))
    assert too_many.value.payload["q"]["code"] == "ARRAY_SIZE_GREATER_THAN_MAX"
    with pytest.raises(ValidationFailed):
        parse_query('"' + " ".join(["w"] * 21) + '"')
