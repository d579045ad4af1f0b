"""The outbox channel "email": render a batch of rows, send it over one SMTP connection.

`deliver` is the channel's `DeliverBatch`: one read transaction renders the batch
(`render.render_batch`), then `smtp.send_batch` sends the e-mails that have a recipient over
one connection, and each row gets its `Outcome` in order:
- sent: delivered;
- skipped (no address, unverified, switched off, cause gone): settled (DONE) with the reason
  as its note (`last_error` = `suppressed: ...`, on the operator's outbox list), so nothing is
  retried and nothing is mailed;
- a broken row (unknown kind, bad payload): failed, for an operator to look at;
- SMTP answers: `smtp.Result` as is (5xx permanent for that row, the rest retried).
`not_ready` keeps every e-mail row waiting while no SMTP host is configured.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.email import links, render, smtp
from crowdpost.outbox.channels import OutboxRow, Outcome

CHANNEL = "email"
BATCH_SIZE = 100

log = logging.getLogger(__name__)

# The link key never changes once created: read (or created) once per database per process.
_SECRETS: weakref.WeakKeyDictionary[Database, bytes] = weakref.WeakKeyDictionary()


def not_ready(settings: Settings) -> str | None:
    if not settings.smtp_host:
        return "SMTP is not configured (set CROWDPOST_SMTP_HOST)"
    return None


def _link_secret(db: Database) -> bytes:
    secret = _SECRETS.get(db)
    if secret is None:
        with db.transaction() as session:  # creates it the first time ever
            secret = links.link_secret(session)
        _SECRETS[db] = secret
    return secret


def deliver(db: Database, settings: Settings, rows: Sequence[OutboxRow]) -> list[Outcome]:
    secret = _link_secret(db)
    rendered = render.render_batch(db, settings, secret, rows)
    outcomes: list[Outcome | None] = [None] * len(rows)
    to_send: list[tuple[int, render.Mail]] = []
    for index, item in enumerate(rendered):
        if isinstance(item, render.Mail):
            to_send.append((index, item))
        elif item.failed:
            log.warning("e-mail row %s cannot be sent: %s", rows[index].id, item.reason)
            outcomes[index] = Outcome.fail(item.reason)
        else:
            outcomes[index] = Outcome.settled(f"suppressed: {item.reason}")
    results = smtp.send_batch(
        smtp.SmtpConfig.from_settings(settings), settings.mail_from, [(m.raw, m.to) for _, m in to_send]
    )
    for (index, _), result in zip(to_send, results, strict=True):
        outcomes[index] = Outcome(ok=result.ok, permanent=result.permanent, error=result.error)
    return [outcome if outcome is not None else Outcome.retry("not rendered") for outcome in outcomes]
