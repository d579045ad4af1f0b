"""The Toloker's pages under /toloker: sign-in, messages, replies, appeals, bonuses."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
