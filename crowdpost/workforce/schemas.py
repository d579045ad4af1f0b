"""Wire models (the admin bulk imports of Tolokers and assignments, and the requester API),
and the audience request and count the audience service takes and answers."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

from crowdpost.kit.schemas import (
    LangText,
    LanguageCode,
    ListPage,
    MicrosDecimal,
    UtcDateTime,
    WireDateTime,
    WireDecimal,
)
from crowdpost.workforce.profile import (
    AssignmentStatus,
    ClientType,
    DeviceCategory,
    Education,
    Gender,
    OsFamily,
    UserAgentType,
)
from crowdpost.workforce.spec import nesting_path

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
TolokerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
# Integer columns (city, regions) are 32-bit; Unix seconds of a birth date stay within years 1-9999.
INT32_MAX = 2**31 - 1
UNIX_SECONDS_MIN = -62_135_596_800
UNIX_SECONDS_MAX = 253_402_300_799


class Version(BaseModel):
    """`14.2.1` -> value 14.2, major 14, minor 2, bugfix 1 (Toloka's os_version keys)."""

    value: Decimal
    major: int
    minor: int | None
    bugfix: int | None

    @classmethod
    def parse(cls, raw: str | int | Decimal) -> Version:
        parts = str(raw).strip().split(".")
        if not parts or not all(p.isdigit() and p.isascii() for p in parts) or len(parts) > 4:
            raise ValueError("version must look like 14, 14.2 or 14.2.1")
        # The columns: value NUMERIC(12, 4), parts INTEGER; every backend stores these exactly.
        if any(len(p) > 6 for p in parts) or (len(parts) > 1 and len(parts[1]) > 4):
            raise ValueError("version parts have at most 6 digits (the minor version at most 4)")
        nums = [int(p) for p in parts]
        minor = nums[1] if len(nums) > 1 else None
        value = Decimal(f"{nums[0]}.{parts[1]}") if minor is not None else Decimal(nums[0])
        return cls(value=value, major=nums[0], minor=minor, bugfix=nums[2] if len(nums) > 2 else None)


def _unix_seconds(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("date_of_birth must be a date or Unix time")
    if isinstance(value, int | Decimal):
        # Bounded before int(): int(Decimal("1e999999999")) would build a billion digits.
        if not UNIX_SECONDS_MIN <= value <= UNIX_SECONDS_MAX:
            raise ValueError("date_of_birth must fall within years 1-9999")
        return int(value)
    if isinstance(value, str):
        day = datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
        return calendar.timegm(day.timetuple())
    raise ValueError("date_of_birth must be YYYY-MM-DD or Unix seconds")


class TolokerIn(BaseModel):
    """One Toloker in `POST /api/admin/v1/tolokers`; fields are Toloka's filter keys."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: TolokerId | None = None
    languages: list[LanguageCode] = Field(default_factory=list, max_length=50)
    country: CountryCode | None = None
    citizenship: CountryCode | None = None
    city: int | None = Field(None, ge=0, le=INT32_MAX)
    gender: Gender | None = None
    date_of_birth: int | None = Field(
        None, ge=UNIX_SECONDS_MIN, le=UNIX_SECONDS_MAX, description="Unix seconds or YYYY-MM-DD"
    )
    education: Education | None = None
    adult_allowed: bool | None = None
    verified: bool | None = None
    region_by_phone: int | None = Field(None, ge=0, le=INT32_MAX)
    region_by_ip: int | None = Field(None, ge=0, le=INT32_MAX)
    client_type: ClientType | None = None
    os_family: OsFamily | None = None
    os_version: str | None = Field(None, max_length=32)
    device_category: DeviceCategory | None = None
    user_agent_type: UserAgentType | None = None
    user_agent_family: str | None = Field(None, max_length=64, alias="browser")
    user_agent_version: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    @field_validator("date_of_birth", mode="before")
    @classmethod
    def _dob(cls, value: Any) -> int | None:
        return None if value is None else _unix_seconds(value)

    @field_validator("os_version", "user_agent_version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> str | None:
        if value is None:
            return None
        Version.parse(value)
        return str(value)

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class TolokerOut(BaseModel):
    id: str
    languages: list[str]
    country: str | None = None
    created: WireDateTime


class Solution(BaseModel):
    """One of Toloka's `solutions[]`: a Toloker's answers to one task."""

    model_config = ConfigDict(extra="allow")

    output_values: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _shallow(cls, value: Any) -> Any:
        """Stored as sent (free-form): at most 32 levels, like every free-form value."""
        if isinstance(value, dict):
            where = nesting_path(value)
            if where is not None:
                raise ValueError(f"free-form values nest at most 32 levels (too deep at {where})")
        return value


class AssignmentIn(BaseModel):
    """One assignment in `POST /api/admin/v1/assignments`: a Toloker started or did a task."""

    model_config = ConfigDict(extra="forbid")

    user_id: TolokerId
    pool_id: str = Field(max_length=64)
    status: AssignmentStatus = AssignmentStatus.ACTIVE
    task_suite_id: str | None = Field(None, max_length=64)
    reward: MicrosDecimal | None = Field(None, ge=0, le=Decimal("1000"), description="at most 6 decimal places")
    created: UtcDateTime | None = None
    submitted: UtcDateTime | None = None
    accepted: UtcDateTime | None = None
    rejected: UtcDateTime | None = None
    public_comment: str | None = Field(None, max_length=4096)
    solutions: list[Solution] | None = Field(None, max_length=1000)


class AssignmentOut(BaseModel):
    id: str
    user_id: str
    pool_id: str
    status: str
    created: WireDateTime


# ---------------------------------------------------------------------------------------------------
# Requester API (`/api/v1`): Toloka's wire shapes. Unknown fields of skills, projects and pools
# are kept in `spec` and returned; the fields crowdpost interprets are validated here.


def _id_as_text(value: Any) -> Any:
    """Toloka's examples send ids as JSON numbers too; they are strings on the wire."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ReqId = Annotated[str, BeforeValidator(_id_as_text), StringConstraints(min_length=1, max_length=64)]


class SkillCreate(BaseModel):
    """Toloka's SkillFormV1 (toloka-kit `create_skill`)."""

    model_config = ConfigDict(extra="allow")

    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    hidden: bool = True
    skill_ttl_hours: int | None = Field(None, ge=1, le=10 * 365 * 24)
    private_comment: str | None = Field(None, max_length=4096)
    public_name: LangText | None = None
    public_requester_description: LangText | None = None
    training: bool | None = None
    deprecated: bool | None = None


class UserSkillSet(BaseModel):
    """Toloka's UserSkillFormV1 (toloka-kit `set_user_skill`)."""

    model_config = ConfigDict(extra="forbid")

    skill_id: ReqId
    user_id: ReqId
    value: Decimal = Field(ge=0, le=100)
    reason: str | None = Field(None, max_length=4096)


class RestrictionScope(StrEnum):
    ALL_PROJECTS = "ALL_PROJECTS"
    PROJECT = "PROJECT"
    POOL = "POOL"
    SYSTEM = "SYSTEM"


class RestrictionSet(BaseModel):
    """Toloka's UserRestrictionFormV1 (toloka-kit `set_user_restriction`)."""

    model_config = ConfigDict(extra="forbid")

    scope: RestrictionScope
    user_id: ReqId
    project_id: ReqId | None = None
    pool_id: ReqId | None = None
    private_comment: str | None = Field(None, max_length=499)
    will_expire: UtcDateTime | None = None


class ProjectCreate(BaseModel):
    """The fields of Toloka's ProjectFormV1 that crowdpost checks; the rest pass through."""

    model_config = ConfigDict(extra="allow")

    public_name: str = Field(min_length=1, max_length=255)
    public_description: str | None = None
    task_spec: dict[str, Any] | None = None
    assignments_issuing_type: str | None = None

    @field_validator("task_spec")
    @classmethod
    def _typed_specs(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """toloka-kit cannot read back a field or view spec without a `type`."""
        if value is None:
            return value
        for part in ("input_spec", "output_spec"):
            fields = value.get(part, {})
            if not isinstance(fields, dict) or not all(isinstance(f, dict) and "type" in f for f in fields.values()):
                raise ValueError(f"every field of task_spec.{part} must be an object with a `type`")
        view = value.get("view_spec")
        if view is not None and not (isinstance(view, dict) and "type" in view):
            raise ValueError("task_spec.view_spec must be an object with a `type`")
        return value


class PoolCreate(BaseModel):
    """The fields of Toloka's PoolFormV1 that crowdpost checks; the rest pass through."""

    model_config = ConfigDict(extra="allow")

    project_id: ReqId
    private_name: str = Field(min_length=1, max_length=255)
    reward_per_assignment: Decimal | None = Field(None, ge=0, le=1000)
    will_expire: UtcDateTime | None = None
    assignment_max_duration_seconds: int | None = Field(None, ge=1)
    filter: dict[str, Any] | None = None


class AssignmentPatch(BaseModel):
    """Toloka's AssignmentPatchV1: accept or reject a submitted assignment."""

    model_config = ConfigDict(extra="forbid")

    status: AssignmentStatus
    public_comment: str | None = Field(None, max_length=2048)


class RecipientsCount(BaseModel):
    """`POST /api/v1/recipients/count`: the audience of a compose, counted, nothing sent."""

    model_config = ConfigDict(extra="forbid")

    recipients_select_type: str
    recipients_ids: list[ReqId] | None = Field(None, max_length=10_000)
    recipients_filter: Any = Field(None, description="Toloka filter JSON; checked by the filter engine")


class RecipientsExcluded(BaseModel):
    banned: int
    unknown: int


class RecipientsCounted(BaseModel):
    count: int
    excluded: RecipientsExcluded
    unknown_ids: list[str] | None = Field(None, description="DIRECT only: ids that are no Toloker of yours")
    banned_ids: list[str] | None = Field(None, description="DIRECT only: ids left out by your active bans")


# Response shapes of the requester API (for the OpenAPI document; handlers build dicts in
# `views` and return `wire(...)`). Skills, projects and pools also carry the fields of their
# spec as sent, hence `extra="allow"`.


class OwnerView(BaseModel):
    id: str
    myself: bool


class SkillView(BaseModel):
    """Toloka's SkillV1."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    name: str
    hidden: bool
    created: WireDateTime
    owner: OwnerView
    global_: bool = Field(alias="global")
    skill_ttl_hours: int | None = None
    private_comment: str | None = None
    public_name: dict[str, str] | None = None
    public_requester_description: dict[str, str] | None = None
    training: bool | None = None
    deprecated: bool | None = None


class SkillPage(ListPage[SkillView]):
    pass


class UserSkillView(BaseModel):
    """Toloka's UserSkillV1: `value` is `exact_value` rounded half up."""

    id: str
    skill_id: str
    user_id: str
    value: int
    exact_value: WireDecimal
    created: WireDateTime
    modified: WireDateTime


class UserSkillPage(ListPage[UserSkillView]):
    pass


class RestrictionView(BaseModel):
    """Toloka's UserRestrictionV1."""

    id: str
    scope: str
    user_id: str
    project_id: str | None = None
    pool_id: str | None = None
    private_comment: str | None = None
    will_expire: WireDateTime | None = None
    created: WireDateTime


class RestrictionPage(ListPage[RestrictionView]):
    pass


class ProjectView(BaseModel):
    """Toloka's ProjectV1."""

    model_config = ConfigDict(extra="allow")

    id: str
    public_name: str
    status: str
    created: WireDateTime
    owner: OwnerView
    public_description: str | None = None
    task_spec: dict[str, Any] | None = None
    assignments_issuing_type: str | None = None


class ProjectPage(ListPage[ProjectView]):
    pass


class PoolView(BaseModel):
    """Toloka's PoolV1 (always `type: REGULAR`)."""

    model_config = ConfigDict(extra="allow")

    id: str
    project_id: str
    private_name: str
    status: str
    created: WireDateTime
    owner: OwnerView
    type: str
    last_started: WireDateTime | None = None
    last_stopped: WireDateTime | None = None
    last_close_reason: str | None = None


class PoolPage(ListPage[PoolView]):
    pass


class AssignmentView(BaseModel):
    """Toloka's AssignmentV1; each time stamp only once set."""

    id: str
    pool_id: str
    user_id: str
    status: str
    reward: WireDecimal
    tasks: list[Any]
    solutions: list[dict[str, Any]]
    mixed: bool
    automerged: bool
    owner: OwnerView
    created: WireDateTime
    task_suite_id: str | None = None
    submitted: WireDateTime | None = None
    accepted: WireDateTime | None = None
    rejected: WireDateTime | None = None
    skipped: WireDateTime | None = None
    expired: WireDateTime | None = None
    public_comment: str | None = None


class AssignmentPage(ListPage[AssignmentView]):
    pass


@dataclass(frozen=True)
class AudienceRequest:
    requester_id: int
    select_type: str  # "DIRECT" | "FILTER" | "ALL"
    recipients_ids: Sequence[str] | None = None
    recipients_filter: dict[str, Any] | None = None


@dataclass(frozen=True)
class AudienceCount:
    count: int  # who would receive
    banned: int  # left out: active ban by this requester
    unknown: int  # DIRECT ids that are no Toloker or never started this requester's tasks
    unknown_ids: list[str]  # those ids (DIRECT only)
    banned_ids: list[str]  # DIRECT only
