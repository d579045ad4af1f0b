"""Outbox gauges for `/metrics`, read at scrape time with one grouped query over PENDING rows
(the partial index keeps it to the rows still waiting). The delivery counter lives with
the loop that counts (`delivery.DELIVERIES`)."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy.orm import Session

from crowdpost.kit.timefmt import utcnow
from crowdpost.outbox import repository
from crowdpost.outbox.channels import channels

PENDING = Gauge("crowdpost_outbox_pending", "Outbox rows waiting to be delivered", ["channel"])
OLDEST_PENDING_AGE = Gauge(
    "crowdpost_outbox_oldest_pending_age_seconds", "Age of the oldest outbox row still waiting", ["channel"]
)


def refresh(session: Session) -> None:
    now = utcnow()
    seen: set[str] = set()
    for channel, count, oldest in repository.pending_by_channel(session):
        seen.add(channel)
        PENDING.labels(channel).set(count)
        OLDEST_PENDING_AGE.labels(channel).set(0 if oldest is None else max(0.0, (now - oldest).total_seconds()))
    # Registered channels with nothing waiting, and any channel whose queue has drained: 0.
    for name in ({c.name for c in channels()} | _labelled()) - seen:
        PENDING.labels(name).set(0)
        OLDEST_PENDING_AGE.labels(name).set(0)


def _labelled() -> set[str]:
    return {sample.labels["channel"] for metric in PENDING.collect() for sample in metric.samples}
