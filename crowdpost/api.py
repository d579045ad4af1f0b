"""Mounts the three API namespaces: requester, Toloker and operator."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from crowdpost.accounts.endpoints import admin as accounts_admin
from crowdpost.accounts.endpoints import requester as accounts_requester
from crowdpost.email.endpoints import requester as email_requester
from crowdpost.email.endpoints import toloker as email_toloker
from crowdpost.messaging.endpoints import admin as messaging_admin
from crowdpost.messaging.endpoints import requester as messaging_requester
from crowdpost.messaging.endpoints import toloker as messaging_toloker
from crowdpost.operations import endpoints as operations_endpoints
from crowdpost.outbox import endpoints as outbox_admin
from crowdpost.rewards.endpoints import requester as rewards_requester
from crowdpost.rewards.endpoints import toloker as rewards_toloker
from crowdpost.webhooks import endpoints as webhooks_requester
from crowdpost.workforce.endpoints import admin as workforce_admin
from crowdpost.workforce.endpoints import requester as workforce_requester

REQUESTER_PREFIX = "/api/v1"
TOLOKER_PREFIX = "/api/toloker/v1"
ADMIN_PREFIX = "/api/admin/v1"


def _joined(*parts: APIRouter) -> APIRouter:
    router = APIRouter()
    for part in parts:
        router.include_router(part)
    return router


def requester_api() -> APIRouter:
    return _joined(
        accounts_requester.router,
        workforce_requester.router,
        rewards_requester.router,
        operations_endpoints.router,
        messaging_requester.router,
        webhooks_requester.router,
        email_requester.router,
    )


def toloker_api() -> APIRouter:
    return _joined(rewards_toloker.router, messaging_toloker.router, email_toloker.router)


def admin_api() -> APIRouter:
    return _joined(accounts_admin.router, messaging_admin.router, workforce_admin.router, outbox_admin.router)


def mount_apis(app: FastAPI) -> None:
    app.include_router(requester_api(), prefix=REQUESTER_PREFIX)
    app.include_router(toloker_api(), prefix=TOLOKER_PREFIX)
    app.include_router(admin_api(), prefix=ADMIN_PREFIX)
