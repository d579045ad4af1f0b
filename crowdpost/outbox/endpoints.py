"""Operator API of the outbox: list rows by status, retry failed ones."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
