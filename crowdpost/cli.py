"""The `crowdpost` command: serve, worker, migrate, demo and operator tools."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.orm import Session

from crowdpost.config import Settings, get_settings
from crowdpost.db import Database
from crowdpost.errors import ApiError, ValidationFailed
from crowdpost.kit.ids import format_id
from crowdpost.kit.money import from_micros
from crowdpost.logs import configure_logging

app = typer.Typer(help="crowdpost: messaging and rewards desk for crowd work", no_args_is_help=True)
admin = typer.Typer(help="Operator tools", no_args_is_help=True)
app.add_typer(admin, name="admin")
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

IMPORT_CHUNK = 10_000
STDIN = "-"  # an argument that means "read it from standard input"


def _settings() -> Settings:
    """The settings, or a clear message naming the variable at fault and exit 2 (no traceback)."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            name = f"CROWDPOST_{field.upper()}: " if field else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            err_console.print(f"invalid settings: {name}{message}", style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None


def _refuse(message: str) -> None:
    err_console.print(message, style="red", markup=False, highlight=False)
    raise typer.Exit(2)


def _database(*, long_running: bool = False) -> Database:
    # Every command that opens the database may publish events or run jobs (the worker,
    # the embedded one of `serve`): register their handlers first.
    from crowdpost.wiring import wire_domains

    wire_domains()
    return Database.from_settings(_settings(), background_checkpoints=long_running)


@contextmanager
def _admin_transaction(*, write: bool = True) -> Iterator[Session]:
    """One transaction of an operator command, on connections of its own that are closed
    afterwards; an ApiError is printed and exits 1 (`_reporting_errors`)."""
    db = _database()
    try:
        with _reporting_errors(), db.transaction(write=write) as session:
            yield session
    finally:
        db.dispose()


def _read_password() -> str:
    """A new password: asked twice without echo, or one line of standard input when that is
    not a terminal."""
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        _refuse("no password given")
    return str(password)


def _migrate(db: Database) -> None:
    from crowdpost.migrate import upgrade

    upgrade(db.engine)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (safe to repeat)."""
    configure_logging(_settings().log_level, as_json=False)
    db = _database()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        _migrate(db)
    finally:
        db.dispose()
    console.print(f"[green]database is up to date[/green] ({db.engine.url.render_as_string(hide_password=True)})")


@app.command()
def demo() -> None:
    """Load the demo data set (idempotent) and print its tokens (development only)."""
    from crowdpost.accounts.exposure import demo_refusal

    # The demo tokens are published: they may exist only where `serve` binds loopback.
    settings = _settings()
    refusal = demo_refusal(settings, ["127.0.0.1"])
    if refusal:
        _refuse(refusal)
    db = _database()
    try:
        _migrate(db)
        # No server here: the page is wherever CROWDPOST_PUBLIC_URL says it is served.
        _print_demo(db, _load_demo(db, settings), f"{settings.public_url.rstrip('/')}/sign-in")
    finally:
        db.dispose()


def _load_demo(db: Database, settings: Settings) -> Any:
    from crowdpost.demo import do_load_demo

    with db.transaction() as session:
        return do_load_demo(session, settings)


def _print_demo(db: Database, summary: Any, sign_in_url: str) -> None:
    """Where to sign in and with what: the demo e-mail and password, and the demo tokens
    (each marked when an operator has changed or revoked it since)."""
    from crowdpost.accounts.exposure import DEMO_PASSWORD, active_demo_tokens
    from crowdpost.accounts.passwords import verify_password
    from crowdpost.accounts.service import requester_password_hash

    with db.transaction(write=False) as session:
        active = active_demo_tokens(session)
        password_hash = requester_password_hash(session, summary.requester_id)
    password_note = "" if password_hash and verify_password(password_hash, DEMO_PASSWORD) else "  (changed)"
    state = "created" if summary.created else "already present"
    console.print(f"Demo data {state}.")
    console.print(f"  Sign in at [bold]{sign_in_url}[/bold]", highlight=False)
    console.print(f"    e-mail: [bold]{summary.email}[/bold]   password: [bold]{DEMO_PASSWORD}[/bold]{password_note}")
    for who, token in (
        (f"requester {format_id(summary.requester_id)}", summary.requester_token),
        (f"Toloker {summary.toloker_id}", summary.toloker_token),
    ):
        note = "" if token in active else "  (revoked)"
        console.print(f"  {who} token: [bold]{token}[/bold]{note}")


SQLITE_ONE_PROCESS = (
    "--workers {workers} needs PostgreSQL: on SQLite, crowdpost serves from one process (SQLite has one "
    "writer at a time, and the group commit that shares it between concurrent payments lives inside one "
    "process; several processes would queue on its lock). Run one process here, or set "
    "CROWDPOST_DATABASE_URL=postgresql+psycopg://... (see README, 'Running on PostgreSQL')."
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Load demo data first")] = False,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Run an embedded worker")] = True,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="API processes sharing the port (PostgreSQL only when > 1)")
    ] = 1,
) -> None:
    """Serve the API and pages (HTTP/1.1) with an embedded worker.

    With --workers N > 1, N processes accept on the port; the embedded worker then runs once,
    in the process that supervises them (it serves no requests). SIGTERM: stop accepting,
    finish the requests in flight (up to CROWDPOST_SHUTDOWN_GRACE_SECONDS), exit 0."""
    import uvicorn

    from crowdpost.accounts.exposure import (
        active_demo_tokens,
        admin_token_refusal,
        demo_refusal,
        demo_tokens_refusal,
    )
    from crowdpost.app import create_app, settle_heap
    from crowdpost.worker.loop import EmbeddedWorker

    settings = _settings()
    if workers > 1 and settings.is_sqlite:
        _refuse(SQLITE_ONE_PROCESS.format(workers=workers))
    # Published tokens never open a reachable server: refuse before touching the database
    # or binding anything.
    hosts = [host]
    refusal = admin_token_refusal(settings, hosts) or (demo_refusal(settings, hosts) if demo else None)
    if refusal:
        _refuse(refusal)
    configure_logging(settings.log_level, settings.log_json)
    db = _database(long_running=True)
    try:
        _migrate(db)
        with db.transaction(write=False) as session:
            refusal = demo_tokens_refusal(settings, hosts, active_demo_tokens(session))
        if refusal:
            _refuse(refusal)
        summary = _load_demo(db, settings) if demo else None
    except BaseException:
        db.dispose()
        raise
    base = f"http://[{host}]:{port}" if ":" in host and not host.startswith("[") else f"http://{host}:{port}"
    console.print(f"crowdpost on {base}  ({db.engine.dialect.name})")
    console.print(f"  API docs: {base}/docs    requester API: {base}/api/v1    Toloker API: {base}/api/toloker/v1")
    console.print(f"  toloka-kit: TolokaClient('<token>', url='{base}')")
    if summary is not None:
        # Last, so the page address and the demo sign-in are what the terminal shows.
        _print_demo(db, summary, f"{base}/sign-in")
    lease = timedelta(seconds=settings.worker_lease_seconds)
    embedded = (
        EmbeddedWorker(db, settings.worker_poll_interval, lease, settings)
        if worker and settings.embedded_worker
        else None
    )
    if embedded:
        embedded.start()
    # uvicorn handles SIGTERM (stop accepting, drain) and then raises it again with the handler
    # that was there before it, to die of it: a handler that does nothing lets it return
    # instead, so the embedded worker stops cleanly and the command exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": "h11",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
    }
    try:
        if workers > 1:
            # Each process builds its app from the environment (an import string: the
            # processes are spawned, not forked, so nothing of this one is shared).
            uvicorn.run("crowdpost.app:create_app_from_environment", factory=True, workers=workers, **common)
        else:
            application = create_app(settings, db)
            settle_heap()
            uvicorn.run(application, **common)
    finally:
        if embedded:
            embedded.stop()
        db.dispose()


@app.command("worker")
def worker_command() -> None:
    """Run a standalone worker until SIGTERM or Ctrl-C."""
    from crowdpost.worker.loop import run_forever

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    db = _database(long_running=True)
    _migrate(db)
    stop = threading.Event()

    def request_stop(*_: object) -> None:
        # Event.set from a signal handler can deadlock with the main thread's own
        # Event.wait (both take the same lock); set it from another thread instead.
        threading.Thread(target=stop.set, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        run_forever(db, stop, settings.worker_poll_interval, timedelta(seconds=settings.worker_lease_seconds), settings)
    finally:
        db.dispose()


@admin.command("create-requester")
def create_requester(
    name: Annotated[str, typer.Argument(help="Public name")],
    company: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    balance: Annotated[str | None, typer.Option(help="Opening deposit, e.g. 100.00")] = None,
) -> None:
    """Create a requester and print its API token (shown once)."""
    from crowdpost.accounts.service import do_create_requester

    db = _database()
    _migrate(db)
    with _reporting_errors(), db.transaction() as session:
        created = do_create_requester(
            session,
            public_name=name,
            company=company,
            email=email,
            balance=_decimal(balance) if balance else None,
        )
        console.print(f"requester {format_id(created.requester.id)}")
        console.print(f"balance   {from_micros(created.requester.balance_micros)}")
        console.print(f"token     [bold]{created.token}[/bold]  (shown once)")


@admin.command()
def deposit(
    requester_id: Annotated[str, typer.Argument(help="Requester id")],
    amount: Annotated[str, typer.Argument(help="Exact amount, e.g. 250.00")],
    operation_id: Annotated[
        str | None,
        typer.Option(
            "--operation-id",
            help="Idempotency key (e.g. a UUID): running the command again with it credits nothing more",
        ),
    ] = None,
) -> None:
    """Add money to a requester's balance (a DEPOSIT ledger row)."""
    from crowdpost.accounts.service import do_deposit_once, find_requester_by_public_id

    with _admin_transaction() as session:
        requester = find_requester_by_public_id(session, requester_id)
        answer = do_deposit_once(session, requester.id, _decimal(amount), operation_id=operation_id)
    if answer.replayed:
        console.print(
            f"operation {operation_id} was already done: nothing credited now "
            f"(ledger entry {answer.body['ledger_entry_id']}, balance then {answer.body['balance']})"
        )
    else:
        console.print(f"balance of {requester_id} is now {answer.body['balance']}")


@admin.command("revoke-token")
def revoke_token(
    token: Annotated[str, typer.Argument(help="The requester or Toloker token; '-' reads it from stdin")],
) -> None:
    """Revoke a requester's or Toloker's token: it gets 401 from the next request on, in every process.

    The operator token is not in the database: rotate it by setting a new CROWDPOST_ADMIN_TOKEN
    and restarting every process.
    """
    import hmac

    from crowdpost.accounts.service import do_revoke_token

    if token == STDIN:
        token = sys.stdin.readline().strip()
    if not token:
        _refuse("no token given")
    settings = _settings()
    if hmac.compare_digest(token.encode("utf-8", "surrogatepass"), settings.admin_token.encode()):
        err_console.print(
            "this is the operator token, which comes from CROWDPOST_ADMIN_TOKEN: rotate it by setting "
            "a new value and restarting every process",
            style="red",
            markup=False,
        )
        raise typer.Exit(1)
    with _admin_transaction() as session:
        revoked = do_revoke_token(session, token)
    owner = f"requester {format_id(revoked.requester_id)}" if revoked.requester_id else f"Toloker {revoked.toloker_id}"
    when = revoked.revoked.isoformat(sep=" ", timespec="seconds")
    state = "revoked" if revoked.newly else "already revoked"
    console.print(f"{state}: {revoked.role} token of {owner} (since {when} UTC)", markup=False)


@admin.command("set-password")
def set_password(requester_id: Annotated[str, typer.Argument(help="Requester id")]) -> None:
    """Set a requester's password for page sign-in: asked twice without echo, or read as one
    line from standard input when that is not a terminal (never an argument: arguments end
    up in shell history and `ps`). Every web session of the requester ends."""
    from crowdpost.accounts.passwords import do_set_password
    from crowdpost.accounts.service import find_requester_by_public_id

    password = _read_password()
    with _admin_transaction() as session:
        requester = find_requester_by_public_id(session, requester_id)
        do_set_password(session, requester.id, password)
    console.print(f"password of requester {requester_id} set; their web sessions ended", markup=False)


@admin.command("set-toloker-password")
def set_toloker_password(toloker_id: Annotated[str, typer.Argument(help="Toloker id")]) -> None:
    """Set a Toloker's password for the Toloker pages: asked twice without echo, or one line
    from standard input when that is not a terminal. Every web session of the Toloker ends."""
    from crowdpost.accounts.toloker_web_sessions import do_set_password

    password = _read_password()
    with _admin_transaction() as session:
        do_set_password(session, toloker_id, password)
    console.print(f"password of Toloker {toloker_id} set; their web sessions ended", markup=False)


@admin.command()
def ledger(requester_id: Annotated[str, typer.Argument(help="Requester id")]) -> None:
    """Print a requester's statement: every balance change, oldest first."""
    from crowdpost.accounts.service import find_requester_by_public_id, ledger_entries

    with _admin_transaction(write=False) as session:
        requester = find_requester_by_public_id(session, requester_id)
        table = Table(title=f"Statement of requester {requester_id}")
        for column in ("id", "created", "kind", "amount", "balance", "reference"):
            table.add_column(column, justify="right" if column in ("amount", "balance") else "left")
        for row in ledger_entries(session, requester.id):
            table.add_row(
                format_id(row.id),
                row.created.isoformat(sep=" ", timespec="seconds"),
                row.kind,
                str(from_micros(row.amount_micros)),
                str(from_micros(row.balance_after_micros)),
                row.reference or "",
            )
        console.print(table)
        console.print(f"balance: [bold]{from_micros(requester.balance_micros)}[/bold]")


@admin.command("import-tolokers")
def import_tolokers(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Create or update Tolokers from CSV or JSON lines; all or nothing."""
    from crowdpost.workforce.schemas import TolokerIn
    from crowdpost.workforce.service.imports import do_import_tolokers

    _import_file(path, TolokerIn, do_import_tolokers, "Tolokers")


@admin.command("import-assignments")
def import_assignments(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Record assignments from CSV or JSON lines; all or nothing."""
    from crowdpost.workforce.schemas import AssignmentIn
    from crowdpost.workforce.service.imports import do_import_assignments

    _import_file(path, AssignmentIn, do_import_assignments, "assignments")


@admin.command("outbox")
def outbox_command() -> None:
    """Print outbox rows (e-mails, webhook events) by status and channel, and how long the
    oldest pending row has waited. Failed rows: GET /api/admin/v1/outbox?status=failed."""
    from crowdpost.outbox.service import summary

    with _admin_transaction(write=False) as session:
        result = summary(session)
    console.print(f"{'status':<8} {'channel':<10} {'rows':>10}", markup=False)
    for status, channel, rows in sorted(result.counts):
        console.print(f"{status:<8} {channel:<10} {rows:>10}", markup=False)
    if result.oldest_pending_seconds is None:
        console.print("nothing pending", markup=False)
    else:
        console.print(f"oldest pending: {result.oldest_pending_seconds:.0f} s", markup=False)


def _import_file(path: Path, model: type[BaseModel], writer: Any, noun: str) -> None:
    from crowdpost.workforce.files import read_file

    items, errors = read_file(path, model)
    lines = _line_numbers(path)
    if errors:
        _fail([e.describe() for e in errors], noun)
    db = _database()
    _migrate(db)
    try:
        with Progress(console=console) as progress, db.transaction() as session:
            task = progress.add_task(f"importing {noun}", total=len(items))
            for start in range(0, len(items), IMPORT_CHUNK):
                chunk = items[start : start + IMPORT_CHUNK]
                try:
                    writer(session, chunk)
                except ValidationFailed as exc:
                    _fail(_item_errors_by_line(exc, lines, start), noun)
                progress.advance(task, len(chunk))
    finally:
        db.dispose()
    console.print(f"[green]imported {len(items)} {noun}[/green]")


def _item_errors_by_line(exc: ValidationFailed, lines: list[int], offset: int) -> list[str]:
    """A bulk error payload keyed by item index, as messages keyed by file line."""
    messages = []
    for index, fields in (exc.payload or {}).items():
        if not index.isdigit():
            continue
        detail = "; ".join(f"{name}: {err.get('message')}" for name, err in fields.items())
        messages.append(f"line {lines[offset + int(index)]}: {detail}")
    return messages or [exc.message]


def _line_numbers(path: Path) -> list[int]:
    """Line number of each data row, in order (for mapping item indexes back to lines)."""
    from crowdpost.workforce.files import _rows

    return [line for line, _ in _rows(path)]


def _fail(messages: list[str], noun: str) -> None:
    for message in messages[:50]:
        err_console.print(f"[red]{message}[/red]")
    if len(messages) > 50:
        err_console.print(f"... and {len(messages) - 50} more")
    err_console.print(f"[red]{len(messages)} bad rows; no {noun} were imported[/red]")
    raise typer.Exit(1)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise typer.BadParameter(f"{text!r} is not a number") from exc


class _reporting_errors:
    """Print an ApiError as a one-line message and exit 1 (the transaction rolls back)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, ApiError):
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            if exc.payload:
                err_console.print(exc.payload)
            raise typer.Exit(1)
