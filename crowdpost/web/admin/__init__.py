"""The operator's page under /admin: platform news, requester look-up, deposits."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
