"""Wire models for requesters and tokens (Toloka RequesterViewV1 plus the admin API)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from crowdpost.kit.schemas import LangText, WireDecimal


class CompanyView(BaseModel):
    id: str
    superintendent_id: str


class RequesterView(BaseModel):
    """Toloka's RequesterViewV1."""

    id: str
    balance: WireDecimal
    public_name: dict[str, str]
    company: CompanyView | None = None


class RequesterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_name: str | LangText = Field(description="A name, or language -> name")
    company: str | None = Field(None, max_length=255)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    balance: Decimal | None = Field(None, description="Opening deposit, exact decimal")


class RequesterCreated(BaseModel):
    id: str
    token: str = Field(description="The API token. Shown once; store it.")
    balance: WireDecimal
    public_name: dict[str, str]
    company: str | None = None
    email: str | None = None
    created: str


class DepositCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal
    description: str | None = Field(None, max_length=1000)


class DepositCreated(BaseModel):
    requester_id: str
    amount: WireDecimal
    balance: WireDecimal
    ledger_entry_id: str


class TokenCreated(BaseModel):
    token: str = Field(description="Shown once; store it.")
    role: str


class TokenRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=512, description="The token to revoke, as issued")


class TokenRevoked(BaseModel):
    revoked: bool
    role: str = Field(description="REQUESTER or TOLOKER")
    revoked_at: str = Field(description="When it was first revoked")
    requester_id: str | None = None
    toloker_id: str | None = None


class PasswordSet(BaseModel):
    """The operator sets a requester's password for page sign-in."""

    model_config = ConfigDict(extra="forbid")

    # The length is checked by the service (`passwords.check_new_password`), before any
    # hashing: the same rule and message as the profile page.
    password: str = Field(description="10 to 1,024 characters")
