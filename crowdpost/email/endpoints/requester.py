"""GET/PATCH /requester/notification-settings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
