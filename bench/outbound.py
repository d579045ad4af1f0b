"""Outbound (issue 12): what the outbox adds to an ALL send, and e-mails per second.

    .venv/bin/python bench/outbound.py [--tolokers 100000] [--emails 2000]
                                       [--backend sqlite|postgresql|both] [--no-write]

(a) An ALL send to N Tolokers through HTTP (`crowdpost serve --no-worker` as its own
    process, as bench/messaging.py does), twice in one database: first with no Toloker
    e-mail address on file, then (a new requester, the same N Tolokers) with every address
    on file, so the send also writes N "email" outbox rows (one INSERT ... SELECT in the
    send's transaction). The difference is the outbox's cost.
(b) E-mails per second: the NEW_MESSAGE rows of (a) delivered through the "email" channel
    (`deliver_pending`, rendering + one SMTP connection per batch) to a local aiosmtpd,
    beside a bare `smtplib` loop sending as many small messages over one connection to the
    same server in the same run.
(c) Webhook events per second: not measured here yet (see RESULTS.md).

Writes an "Outbound" section into bench/RESULTS.md (other sections are left alone).
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ADMIN, backend_url, server, write_section  # noqa: E402
from bench.messaging import seed_tolokers  # noqa: E402
from crowdpost.config import Settings  # noqa: E402
from crowdpost.db import Database, make_engine  # noqa: E402
from crowdpost.migrate import upgrade  # noqa: E402
from tests.fixtures.live_server import free_port  # noqa: E402


def _requester(base: str) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/api/admin/v1/requesters", json={"public_name": "Bench"}, headers={"Authorization": f"OAuth {ADMIN}"}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _send_all(base: str, token: str) -> float:
    body = {"recipients_select_type": "ALL", "topic": {"EN": "News"}, "text": {"EN": "A new pool is open."}}
    started = time.perf_counter()
    response = httpx.post(
        f"{base}/api/v1/message-threads/compose", json=body, headers={"Authorization": f"OAuth {token}"}, timeout=300
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    return elapsed


def bench_send(url: str, n: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    with server(url, worker=False) as (base, _proc):
        first = _requester(base)
        seed_tolokers(engine, int(first["id"]), n)
        without = _send_all(base, first["token"])
        with engine.begin() as conn:
            outbox_before = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
            conn.execute(text("UPDATE tolokers SET email = id || '@example.test'"))
        second = _requester(base)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO requester_tolokers "
                    "(requester_id, user_id, started_count, first_started, last_started) "
                    "SELECT :r, id, 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM tolokers"
                ),
                {"r": int(second["id"])},
            )
        with_email = _send_all(base, second["token"])
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() - outbox_before
    engine.dispose()
    return {"without": without, "with": with_email, "rows": rows, "rows_before": outbox_before}


def bench_email(url: str, count: int) -> dict[str, Any] | str:
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Sink

        from crowdpost.outbox.delivery import deliver_pending
        from crowdpost.wiring import wire_domains
    except ImportError as exc:
        return f"not measured: {exc}"
    wire_domains()
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = Settings(database_url=url, smtp_host="127.0.0.1", smtp_port=port)
        db = Database.from_settings(settings)
        with db.transaction() as session:
            # Only `count` rows stay due: the rest wait an hour.
            session.execute(
                text(
                    "UPDATE outbox SET next_attempt_at = :later WHERE channel = 'email' AND id NOT IN "
                    "(SELECT id FROM outbox WHERE channel = 'email' AND status = 'PENDING' ORDER BY id LIMIT :n)"
                ),
                {"later": _later(), "n": count},
            )
        started = time.perf_counter()
        processed = deliver_pending(db, settings)
        channel_seconds = time.perf_counter() - started
        with db.transaction(write=False) as session:
            done = session.execute(text("SELECT count(*) FROM outbox WHERE status = 'DONE'")).scalar_one()
        db.dispose()

        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for i in range(count):
                msg = EmailMessage()
                msg["From"] = "crowdpost@localhost"
                msg["To"] = f"t{i:09d}@example.test"
                msg["Subject"] = "News"
                msg.set_content("A new pool is open.")
                smtp.send_message(msg)
        bare_seconds = time.perf_counter() - started
    finally:
        controller.stop()
    return {
        "processed": processed,
        "done": done,
        "channel_per_s": processed / channel_seconds,
        "bare_per_s": count / bare_seconds,
    }


def _later() -> Any:
    from datetime import timedelta

    from crowdpost.kit.timefmt import utcnow

    return utcnow() + timedelta(hours=1)


def render(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "## Outbound",
        "",
        f"`bench/outbound.py --tolokers {args.tolokers} --emails {args.emails}` on 2 cores, 2026-12-05 (issue 12).",
        "",
        "(a) ALL send to the same Tolokers through HTTP, without and with their e-mail addresses on file "
        "(with: one more INSERT ... SELECT into `outbox` in the send's transaction):",
        "",
        "| backend | Tolokers | send, no addresses | send, addresses on file | outbox rows written | added |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        s = r["send"]
        lines.append(
            f"| {name} | {args.tolokers:,} | {s['without']:.2f} s | {s['with']:.2f} s | {s['rows']:,} "
            f"| {s['with'] - s['without']:+.2f} s |"
        )
    lines += ["", "(b) E-mails per second to a local aiosmtpd (same server, same run):", ""]
    lines += ["| backend | email channel (render + SMTP, batches) | bare smtplib loop | ratio |", "|---|---|---|---|"]
    for name, r in rows.items():
        e = r["email"]
        if isinstance(e, str):
            lines.append(f"| {name} | {e} | | |")
        else:
            ratio = e["channel_per_s"] / e["bare_per_s"]
            lines.append(f"| {name} | {e['channel_per_s']:.0f}/s | {e['bare_per_s']:.0f}/s | {ratio:.0%} |")
    lines += [
        "",
        "(c) Webhook events per second beside a bare httpx loop: not measured in this run (the webhook "
        "channel had not landed when this section was written).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tolokers", type=int, default=100_000)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows: dict[str, dict[str, Any]] = {}
    for name in backends:
        with (
            tempfile.TemporaryDirectory(prefix="crowdpost-bench-") as tmp,
            backend_url(name, Path(tmp), "crowdpost_bench_outbound") as url,
        ):
            send = bench_send(url, args.tolokers)
            print(name, "send", send, flush=True)
            email = bench_email(url, args.emails)
            print(name, "email", email, flush=True)
            rows[name] = {"send": send, "email": email}
    section = render(rows, args)
    print(section)
    if not args.no_write:
        write_section("Outbound", section)


if __name__ == "__main__":
    main()
