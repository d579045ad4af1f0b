"""How a requester's and a Toloker's e-mail settings look on the API (and the pages)."""

from __future__ import annotations

from typing import Any

from crowdpost.email.schemas import (
    EventSwitchView,
    RequesterEventsView,
    RequesterSettingsView,
    TolokerEventsView,
    TolokerSettingsView,
)


def requester_settings_view(row: Any) -> RequesterSettingsView:
    return RequesterSettingsView(
        email=row.email,
        email_verified=bool(row.email_verified),
        events=RequesterEventsView(
            NEW_MESSAGE=EventSwitchView(email=bool(row.email_new_message)),
            OPERATION_FINISHED=EventSwitchView(email=bool(row.email_operation_finished)),
        ),
    )


def toloker_settings_view(row: Any) -> TolokerSettingsView:
    return TolokerSettingsView(
        email=row.email, events=TolokerEventsView(NEW_MESSAGE=EventSwitchView(email=bool(row.email_new_message)))
    )
