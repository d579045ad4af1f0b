"""Toloka datetimes: naive UTC, `YYYY-MM-DDThh:mm:ss.sss`, no `Z`.

toloka-kit parses at most 6 fraction digits and, on Python <= 3.10, no `Z`.
Incoming naive datetimes are UTC; aware ones are converted.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC now, truncated to milliseconds (what we store and emit)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


class DateOutOfRange(ValueError):
    """An aware datetime whose UTC time falls outside years 1-9999 (e.g. year 1 at +05:00).

    Rendered as a 400 VALIDATION_ERROR naming `field` (crowdpost.errors)."""

    def __init__(self, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field or 'datetime'} is out of range: in UTC it falls outside years 1-9999")


def to_naive_utc(value: datetime, field: str | None = None) -> datetime:
    """Naive UTC; DateOutOfRange (a ValueError, so pydantic validators report it too)
    instead of OverflowError near year 1 or 9999."""
    if value.tzinfo is not None:
        try:
            return value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError as exc:
            raise DateOutOfRange(field) from exc
    return value
