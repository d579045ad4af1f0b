"""Wire models for the admin bulk imports of Tolokers and assignments."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from crowdpost.kit.schemas import LanguageCode
from crowdpost.workforce.profile import (
    AssignmentStatus,
    ClientType,
    DeviceCategory,
    Education,
    Gender,
    OsFamily,
    UserAgentType,
)

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
TolokerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]


class Version(BaseModel):
    """`14.2.1` -> value 14.2, major 14, minor 2, bugfix 1 (Toloka's os_version keys)."""

    value: Decimal
    major: int
    minor: int | None
    bugfix: int | None

    @classmethod
    def parse(cls, raw: str | int | Decimal) -> Version:
        parts = str(raw).strip().split(".")
        if not parts or not all(p.isdigit() for p in parts) or len(parts) > 4:
            raise ValueError("version must look like 14, 14.2 or 14.2.1")
        nums = [int(p) for p in parts]
        minor = nums[1] if len(nums) > 1 else None
        value = Decimal(f"{nums[0]}.{parts[1]}") if minor is not None else Decimal(nums[0])
        return cls(value=value, major=nums[0], minor=minor, bugfix=nums[2] if len(nums) > 2 else None)


def _unix_seconds(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("date_of_birth must be a date or Unix time")
    if isinstance(value, int | Decimal):
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
    city: int | None = Field(None, ge=0)
    gender: Gender | None = None
    date_of_birth: int | None = Field(None, description="Unix seconds or YYYY-MM-DD")
    education: Education | None = None
    adult_allowed: bool | None = None
    verified: bool | None = None
    region_by_phone: int | None = Field(None, ge=0)
    region_by_ip: int | None = Field(None, ge=0)
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
    created: datetime


class AssignmentIn(BaseModel):
    """One assignment in `POST /api/admin/v1/assignments`: a Toloker started or did a task."""

    model_config = ConfigDict(extra="forbid")

    user_id: TolokerId
    pool_id: str
    status: AssignmentStatus = AssignmentStatus.ACTIVE
    task_suite_id: str | None = Field(None, max_length=64)
    reward: Decimal | None = Field(None, ge=0, le=Decimal("1000"))
    created: datetime | None = None
    submitted: datetime | None = None
    accepted: datetime | None = None
    rejected: datetime | None = None
    public_comment: str | None = Field(None, max_length=4096)


class AssignmentOut(BaseModel):
    id: str
    user_id: str
    pool_id: str
    status: str
    created: datetime
