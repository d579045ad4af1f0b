"""The Rewards page: pay one Toloker, a group; progress; past bonuses."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
