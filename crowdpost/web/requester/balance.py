"""The balance statement: every ledger row with its running balance."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
