"""The Toloker's pages under /toloker: sign-in, messages, replies, appeals, bonuses."""

from __future__ import annotations

from fastapi import APIRouter

from crowdpost.web.toloker import auth, bonuses, messages

# Built from the routes, not by include_router calls: nothing runs at import time.
router = APIRouter(routes=[*auth.router.routes, *messages.router.routes, *bonuses.router.routes])
