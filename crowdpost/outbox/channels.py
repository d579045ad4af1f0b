"""How an outbound channel plugs into the outbox: one function delivers a batch of rows.

A channel ("email", "webhook") registers a `DeliverBatch` in `crowdpost.wiring`
(`OUTBOX_CHANNELS`). The delivery loop claims a batch of the channel's rows, calls it
OUTSIDE any transaction (it opens its own short read transactions to render, then does
network I/O), and records the outcomes, one per row in the same order, in one short
transaction. `not_ready(settings)` says why the channel cannot send now (e.g. "SMTP is
not configured"); its rows then wait, no attempt spent, and `/readyz` lists the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crowdpost.config import Settings

if TYPE_CHECKING:
    from crowdpost.db import Database


@dataclass(frozen=True)
class Outcome:
    """What happened to one row: delivered, worth a retry, or failed for good.

    `error` says why a row was not delivered; on an ok outcome it is a note kept on the DONE
    row (`last_error`), e.g. why a settled row sent nothing (`settled`)."""

    ok: bool
    permanent: bool = False
    error: str | None = None

    @classmethod
    def delivered(cls) -> Outcome:
        return cls(ok=True)

    @classmethod
    def settled(cls, note: str) -> Outcome:
        """Done without sending anything (e.g. the recipient switched e-mail off), and why."""
        return cls(ok=True, error=note)

    @classmethod
    def retry(cls, error: str) -> Outcome:
        return cls(ok=False, error=error)

    @classmethod
    def fail(cls, error: str) -> Outcome:
        return cls(ok=False, permanent=True, error=error)


@dataclass(frozen=True)
class OutboxRow:
    """A claimed row, detached from any session. `attempts` counts this one."""

    id: int
    channel: str
    kind: str
    requester_id: int | None
    user_id: str | None
    ref_id: int | None
    ordering_key: str | None
    payload: dict[str, Any] | None
    attempts: int
    created: datetime


DeliverBatch = Callable[["Database", Settings, Sequence[OutboxRow]], Sequence[Outcome]]
NotReady = Callable[[Settings], "str | None"]


@dataclass(frozen=True)
class Channel:
    name: str
    deliver: DeliverBatch
    batch_size: int = 100
    not_ready: NotReady | None = None

    def why_not_ready(self, settings: Settings) -> str | None:
        return None if self.not_ready is None else self.not_ready(settings)


_CHANNELS: dict[str, Channel] = {}


def register_channel(
    name: str, deliver: DeliverBatch, *, batch_size: int = 100, not_ready: NotReady | None = None
) -> None:
    """Registers (or replaces: wiring runs more than once, tests swap channels) a channel."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    _CHANNELS[name] = Channel(name, deliver, batch_size, not_ready)


def unregister_channel(name: str) -> None:
    """For tests that register a channel of their own."""
    _CHANNELS.pop(name, None)


def channel(name: str) -> Channel | None:
    return _CHANNELS.get(name)


def channels() -> list[Channel]:
    return list(_CHANNELS.values())


def not_ready_channels(settings: Settings) -> dict[str, str]:
    """Channel -> why it cannot send now, for the channels that cannot."""
    reasons = {c.name: c.why_not_ready(settings) for c in channels()}
    return {name: why for name, why in reasons.items() if why}
