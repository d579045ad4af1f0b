"""Shapes of the notification-settings API (an extension of Toloka's)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool

MAX_EMAIL = 254  # RFC 5321's path limit less the brackets


class EventSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: StrictBool | None = Field(None, description="Send this event by e-mail")


class RequesterEvents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    NEW_MESSAGE: EventSwitch | None = None
    OPERATION_FINISHED: EventSwitch | None = None


class TolokerEvents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    NEW_MESSAGE: EventSwitch | None = None


class RequesterSettingsPatch(BaseModel):
    """Any part of the settings. A new address is unverified until the link mailed to it is
    opened; `email_verified` is read-only (sent back unchanged, it is ignored)."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, max_length=MAX_EMAIL, description="null removes the address")
    email_verified: StrictBool | None = Field(None, description="Read-only")
    events: RequesterEvents | None = None


class TolokerSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: TolokerEvents | None = None


class EventSwitchView(BaseModel):
    email: bool


class RequesterEventsView(BaseModel):
    NEW_MESSAGE: EventSwitchView
    OPERATION_FINISHED: EventSwitchView


class TolokerEventsView(BaseModel):
    NEW_MESSAGE: EventSwitchView


class RequesterSettingsView(BaseModel):
    # Absent (not null) when no address is on file: wire bodies leave out nulls, as Toloka's do.
    email: str | None = Field(default=None, description="Absent when no address is on file")
    email_verified: bool
    events: RequesterEventsView


class TolokerSettingsView(BaseModel):
    email: str | None = Field(default=None, description="Set by the operator; read-only here; absent when none")
    events: TolokerEventsView
