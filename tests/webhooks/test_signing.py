"""Toloka-Signature against the guide's own example (authentication.md, "Validation example")."""

from __future__ import annotations

import json

from crowdpost.webhooks import signing

# The guide's example: secret 12345, ts 946728000000, v 1, and this event, sent as compact JSON.
_GUIDE_EVENT = {
    "events": [
        {
            "event_time": "2000-01-01T12:00:00",
            "project_id": "project-1",
            "pool_id": "pool-1",
            "uuid": "00000000-0000-0000-0000-000000000000",
            "task_suite_id": "task-suite-1",
            "assignment_id": "assignment-1",
            "webhook_subscription_id": "subscription-1",
            "type": "ASSIGNMENT_APPROVED",
        }
    ]
}
_GUIDE_SIGN = "609af3eefd4c12b6afad30ab456efcd21fe82f4247d3340151a3ca0c97a6cbcb"


def test_signature_matches_the_guides_example() -> None:
    body = json.dumps(_GUIDE_EVENT, separators=(",", ":")).encode()

    assert signing.signature("12345", body, 946728000000) == _GUIDE_SIGN
    assert signing.signature_header("12345", body, 946728000000) == f"v=1, ts=946728000000, sign={_GUIDE_SIGN}"
    # The guide writes the header in braces; a receiver reads either form.
    assert signing.is_valid("12345", body, f"{{v=1, ts=946728000000, sign={_GUIDE_SIGN}}}")


def test_a_changed_body_secret_or_timestamp_fails() -> None:
    body = b'{"events":[]}'
    header = signing.signature_header("s3cret", body, 1000)

    assert signing.is_valid("s3cret", body, header)
    assert not signing.is_valid("s3cret", body + b" ", header)
    assert not signing.is_valid("other", body, header)
    assert not signing.is_valid("s3cret", body, header.replace("ts=1000", "ts=1001"))
    assert not signing.is_valid("s3cret", body, "v=1, ts=1000")
