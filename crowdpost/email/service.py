"""Notification settings: addresses, their verification, and the per-event e-mail switches.

An address set by an operator (admin API, CLI) counts as verified; one the requester sets
is unverified until the link mailed to it (a VERIFY_EMAIL outbox row) is opened, and an
unverified address gets nothing else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crowdpost.email import repository, views
from crowdpost.email.addresses import normalize_address
from crowdpost.email.links import UnsubscribeLink, VerifyLink
from crowdpost.email.schemas import (
    RequesterSettingsPatch,
    RequesterSettingsView,
    TolokerSettingsPatch,
    TolokerSettingsView,
)
from crowdpost.errors import DoesNotExist, ValidationFailed, field_error
from crowdpost.outbox.service import enqueue

EMAIL = "email"
VERIFY_EMAIL = "VERIFY_EMAIL"


def get_requester_settings(session: Session, requester_id: int) -> RequesterSettingsView:
    row = repository.requester_settings(session, requester_id)
    if row is None:
        raise DoesNotExist()
    return views.requester_settings_view(row)


def check_address(raw: str, field: str = "email") -> str:
    address = normalize_address(raw)
    if address is None:
        raise ValidationFailed({field: field_error("INVALID_EMAIL", "Not an e-mail address like name@example.org")})
    return address


def do_patch_requester_settings(
    session: Session, requester_id: int, patch: RequesterSettingsPatch
) -> RequesterSettingsView:
    """Applies any part of the settings; a changed address waits for its link."""
    row = repository.requester_settings(session, requester_id, lock=True)
    if row is None:
        raise DoesNotExist()
    values: dict[str, Any] = {}
    if "email" in patch.model_fields_set:
        new = None if patch.email is None else check_address(patch.email)
        if new != row.email:
            values.update(email=new, email_verified=False)
    if patch.events is not None:
        for event, column in repository.REQUESTER_SWITCHES.items():
            switch = getattr(patch.events, event)
            if switch is not None and switch.email is not None:
                values[column] = switch.email
    repository.update_requester(session, requester_id, values)
    if values.get("email"):
        _enqueue_verification(session, requester_id, values["email"])
    return get_requester_settings(session, requester_id)


def do_resend_verification(session: Session, requester_id: int) -> bool:
    """Mails the link again; False when there is no unverified address to confirm."""
    row = repository.requester_settings(session, requester_id)
    if row is None or row.email is None or row.email_verified:
        return False
    _enqueue_verification(session, requester_id, row.email)
    return True


def _enqueue_verification(session: Session, requester_id: int, email: str) -> None:
    enqueue(
        session,
        channel=EMAIL,
        kind=VERIFY_EMAIL,
        requester_id=requester_id,
        ordering_key=f"requester:{requester_id}:verify",
        payload={"email": email},
    )


def do_verify_address(session: Session, link: VerifyLink) -> bool:
    """Confirms the address of a checked link; False if the requester's address changed since."""
    return repository.confirm_address(session, link.requester_id, link.email)


def do_unsubscribe(session: Session, link: UnsubscribeLink) -> bool:
    """Turns the link's event off for its requester or Toloker; False if they are gone."""
    if link.audience == "REQUESTER":
        if not link.subject_id.isascii() or not link.subject_id.isdigit():
            return False
        column = repository.REQUESTER_SWITCHES[link.event]
        return repository.update_requester_switch(session, int(link.subject_id), column)
    return repository.update_toloker(session, link.subject_id, {repository.TOLOKER_SWITCHES[link.event]: False})


def get_toloker_settings(session: Session, toloker_id: str) -> TolokerSettingsView:
    row = repository.toloker_settings(session, toloker_id)
    if row is None:
        raise DoesNotExist()
    return views.toloker_settings_view(row)


def do_patch_toloker_settings(session: Session, toloker_id: str, patch: TolokerSettingsPatch) -> TolokerSettingsView:
    values: dict[str, Any] = {}
    if patch.events is not None and patch.events.NEW_MESSAGE is not None and patch.events.NEW_MESSAGE.email is not None:
        values[repository.TOLOKER_SWITCHES["NEW_MESSAGE"]] = patch.events.NEW_MESSAGE.email
    if values and not repository.update_toloker(session, toloker_id, values):
        raise DoesNotExist()
    return get_toloker_settings(session, toloker_id)
