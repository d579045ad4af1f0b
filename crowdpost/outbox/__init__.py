"""outbox: rows written with their cause, delivered at least once by workers (e-mail, webhooks)."""
