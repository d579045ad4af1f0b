"""One settings object, read from `CROWDPOST_*` environment variables and checked at startup."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ADMIN_TOKEN = "changethis-admin-token"  # noqa: S105 - refused outside development
# Anything else is refused at start: a typo such as "prod" must not fall back to development.
Environment = Literal["development", "testing", "production"]
MIN_PRODUCTION_ADMIN_TOKEN_LENGTH = 32
# A crude entropy floor on top of the length: "aaaa...", "abababab..." are not secrets.
MIN_PRODUCTION_ADMIN_TOKEN_DISTINCT = 10
DEFAULT_VAR_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CROWDPOST_", extra="ignore")

    environment: Environment = Field(
        "development",
        description="development, testing or production; well-known tokens work only in development",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; empty means a SQLite file under var/. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    # Connections each process keeps to the database (and as many again in a burst): one
    # `serve` process's threads plus its embedded worker. PostgreSQL only; SQLite opens as needed.
    database_pool_size: int = Field(10, ge=1)
    # PostgreSQL: the longest a statement may run, and wait for a lock, in an API request's
    # transaction (0 = no limit). The longest legitimate statements, an ALL send's fan-out to
    # 100,000 Tolokers and an async batch of 100,000 bonuses stored in its request, take 2-3 s
    # on a quiet server (bench/RESULTS.md), 6x that on a loaded one; the longest lock waits
    # are id order's (a send beside an ALL send's fan-out, up to 4-5 s). Set per transaction
    # (set_config(..., true)) behind a pooler, per connection otherwise.
    database_statement_timeout_seconds: float = Field(30, ge=0)
    database_lock_timeout_seconds: float = Field(10, ge=0)
    # A worker's jobs (one chunk of an async operation, with its bonus messages' threads) may
    # wait behind a large fan-out's table lock and run longer than a request: their own limits.
    # Migrations run with no limit (a new index on a large table takes what it takes).
    worker_statement_timeout_seconds: float = Field(300, ge=0)
    worker_lock_timeout_seconds: float = Field(60, ge=0)
    # How long connecting to PostgreSQL may take before /readyz and requests give up on it.
    database_connect_timeout_seconds: int = Field(5, ge=1)
    # "transaction": the URL points at a pooler in transaction mode (pgbouncer's
    # pool_mode=transaction), which hands each transaction a different server connection:
    # no prepared statements (psycopg's prepare_threshold off) and the timeouts are set at
    # the start of every transaction instead of once per connection.
    database_pooler: Literal["none", "transaction"] = "none"
    var_dir: Path = DEFAULT_VAR_DIR
    admin_token: str = DEFAULT_ADMIN_TOKEN

    # HTTP
    max_body_bytes: int = 32 * 1024 * 1024
    # Page forms are small (a compose is at most ~2 MB form-encoded) and may come from anyone
    # (the sign-in form): their bodies get a much lower cap than the API's batch uploads.
    max_page_body_bytes: int = 4 * 1024 * 1024
    # POST /rewards/file (a CSV of up to 100,000 bonuses) may exceed the page cap, up to this.
    max_bonus_file_bytes: int = 16 * 1024 * 1024
    page_limit_default: int = 50
    page_limit_max: int = 300
    bulk_max_items: int = 10_000

    # Money and rewards
    bonus_min_amount: Decimal = Decimal("0.001")
    bonus_max_amount: Decimal = Decimal("100")
    bonus_fee_percent: Decimal = Decimal("0")
    bonus_sync_max_items: int = 100
    bonus_requests_per_day: int = 10_000
    low_balance_threshold: Decimal = Decimal("5")

    # Messaging
    all_recipients_min_started: int = 2
    all_sends_per_day: int = 1
    targeted_sends_per_day: int = 100_000
    # FILTER and ALL sends reach a Toloker at most this many times per requester in 7 days
    # (the guide: "Don't send too many bulk emails"); over it they are left out, LEFT_OUT_CAPPED.
    bulk_messages_per_toloker_week: int = Field(3, ge=1)

    # Page sign-in: a web session ends after this long unused, and this long after sign-in
    # whatever its use; this many failed sign-ins within the lock window lock the account
    # (or token) for the same number of minutes.
    session_idle_hours: float = Field(12, gt=0)
    session_absolute_days: float = Field(14, gt=0)
    sign_in_max_failures: int = Field(10, ge=1)
    sign_in_lock_minutes: int = Field(15, ge=1)

    # Worker
    worker_poll_interval: float = 0.2
    # Items per async step: each step has a fixed cost (job claim, operation lock, commits),
    # so 5,000 pays 100,000 bonuses in 20 steps per pass (bench/RESULTS.md, Rewards).
    worker_chunk_size: int = 5000
    worker_lease_seconds: float = 300
    embedded_worker: bool = True
    # Outbox (e-mails, webhooks): a row failing temporarily is retried with backoff for this
    # long after it was written, then FAILED; a claimed row comes back after the lease.
    outbox_retry_hours: float = Field(24, gt=0)
    outbox_lease_seconds: float = Field(300, gt=0)

    # E-mail
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "crowdpost@localhost"
    # One SMTP connection carries a batch of e-mails; each command waits at most this long.
    smtp_timeout_seconds: float = Field(30, gt=0)
    # E-mails per second over all connections of this process; 0 sends as fast as the server takes them.
    smtp_rate_per_second: float = Field(0, ge=0)
    # A PEM file of CA certificates STARTTLS trusts instead of the system's (a private mail relay).
    smtp_ca_file: str = ""
    public_url: str = "http://127.0.0.1:8000"
    # Webhooks may go to loopback/private addresses (tests' 127.0.0.1 receivers; never in production).
    webhook_allow_private: bool = False

    # SIGTERM: `serve` stops accepting and lets requests in flight finish for up to this long.
    shutdown_grace_seconds: float = Field(30, ge=0)

    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.environment == "production":
            if self.admin_token == DEFAULT_ADMIN_TOKEN:
                raise ValueError(
                    "CROWDPOST_ADMIN_TOKEN must be set to a secret in production "
                    f"(at least {MIN_PRODUCTION_ADMIN_TOKEN_LENGTH} characters, not the default)"
                )
            if len(self.admin_token) < MIN_PRODUCTION_ADMIN_TOKEN_LENGTH:
                raise ValueError(
                    f"CROWDPOST_ADMIN_TOKEN must have at least {MIN_PRODUCTION_ADMIN_TOKEN_LENGTH} characters "
                    f"in production (it has {len(self.admin_token)}); e.g. python -c "
                    "'import secrets; print(secrets.token_urlsafe(32))'"
                )
            if len(set(self.admin_token)) < MIN_PRODUCTION_ADMIN_TOKEN_DISTINCT:
                raise ValueError(
                    "CROWDPOST_ADMIN_TOKEN is too repetitive to be a secret in production "
                    f"(fewer than {MIN_PRODUCTION_ADMIN_TOKEN_DISTINCT} distinct characters); use a random token"
                )
        if self.bonus_min_amount <= 0 or self.bonus_min_amount > self.bonus_max_amount:
            raise ValueError("bonus amount bounds are inconsistent")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'crowdpost.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
