"""Wire models of bonuses, for the OpenAPI document. Requests are checked by
`validation` (exact decimals, per-item errors); handlers return plain dicts."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from crowdpost.kit.schemas import ListPage, WireDateTime, WireDecimal


class UserBonusForm(BaseModel):
    """Toloka's UserBonusFormV1; the body is one of these or a list of them."""

    user_id: str
    amount: Decimal = Field(description="US dollars, 0.001 to 100, at most 3 decimal places (never rounded)")
    assignment_id: str | None = None
    private_comment: str | None = None
    public_title: dict[str, str] | None = Field(None, description='language -> text, e.g. {"EN": "Thank you"}')
    public_message: dict[str, str] | None = None
    without_message: bool = Field(False, description="true (with null title and message) pays without a message")


class UserBonusView(UserBonusForm):
    id: str
    amount: WireDecimal = Field(description=UserBonusForm.model_fields["amount"].description)
    created: WireDateTime


class UserBonusBatchResult(BaseModel):
    """A synchronous list request: results and errors keyed by the item's position."""

    items: dict[str, UserBonusView]
    validation_errors: dict[str, dict[str, dict[str, object]]] = {}


class UserBonusPage(ListPage[UserBonusView]):
    pass


class RequesterRef(BaseModel):
    id: str
    name: str | None = None


class TolokerBonusView(BaseModel):
    """A Toloker's own bonus, with title and message in their language."""

    id: str
    amount: WireDecimal
    requester: RequesterRef
    title: str | None = None
    message: str | None = None
    language: str | None = None
    without_message: bool
    assignment_id: str | None = None
    created: WireDateTime


class TolokerBonusPage(ListPage[TolokerBonusView]):
    pass
