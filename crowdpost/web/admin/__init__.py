"""The operator's page under /admin: platform news, requester look-up, deposits.

Signed in with the operator token (`operator_session`: a signed cookie of its own, path
/admin); the handlers call the same services as the operator API (`/api/admin/v1`).
"""

from __future__ import annotations

from fastapi import APIRouter

from crowdpost.web.admin import news, requesters, sign_in

# Built from the routes, not by include_router calls: nothing runs at import time.
router = APIRouter(
    include_in_schema=False,
    routes=[*sign_in.router.routes, *news.router.routes, *requesters.router.routes],
)
