"""Requester API: PUT/GET/DELETE /webhook-subscriptions, as toloka-kit calls them."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
