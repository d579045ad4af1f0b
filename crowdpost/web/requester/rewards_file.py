"""Rewards: pay from a CSV file (validate, preview, pay once)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
