"""The vocabulary of Toloker profiles, shared by imports and recipient filters.

Its own module (not `schemas.py`) because `filters.py` needs it too, and it is plain enums."""

from __future__ import annotations

from enum import StrEnum


class Gender(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class Education(StrEnum):
    BASIC = "BASIC"
    MIDDLE = "MIDDLE"
    HIGH = "HIGH"


class ClientType(StrEnum):
    BROWSER = "BROWSER"
    TOLOKA_APP = "TOLOKA_APP"


class DeviceCategory(StrEnum):
    PERSONAL_COMPUTER = "PERSONAL_COMPUTER"
    SMARTPHONE = "SMARTPHONE"
    TABLET = "TABLET"
    WEARABLE_COMPUTER = "WEARABLE_COMPUTER"


class OsFamily(StrEnum):
    WINDOWS = "WINDOWS"
    OS_X = "OS_X"
    MAC_OS = "MAC_OS"
    LINUX = "LINUX"
    BSD = "BSD"
    ANDROID = "ANDROID"
    IOS = "IOS"
    BLACKBERRY = "BLACKBERRY"


class UserAgentType(StrEnum):
    BROWSER = "BROWSER"
    MOBILE_BROWSER = "MOBILE_BROWSER"
    OTHER = "OTHER"


class AssignmentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    SKIPPED = "SKIPPED"
