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


def to_naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
