"""Profile -> Notifications: e-mail address and per-event switches."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
