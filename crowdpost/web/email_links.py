"""Links that arrive by e-mail: confirm an address, one-click unsubscribe."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
