"""The Toloker's own e-mail switch."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
