"""mount_pages(app): the page routes, the static files, HTML errors and security headers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from crowdpost.web import admin, email_links, toloker
from crowdpost.web.errors import install_page_errors
from crowdpost.web.headers import PageHeadersMiddleware
from crowdpost.web.requester import (
    auth,
    balance,
    compose,
    messages,
    notifications,
    operations,
    profile,
    rewards,
    rewards_file,
    rewards_group,
    thread,
)
from crowdpost.web.templating import STATIC_DIR


def mount_pages(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # compose before thread: /messages/compose is not a thread id; the file flow before the
    # rest of /rewards for the same reason
    requester_pages = (
        auth,
        compose,
        messages,
        thread,
        notifications,
        profile,
        rewards_file,
        rewards_group,
        operations,
        rewards,
        balance,
    )
    for module in (*requester_pages, email_links, toloker, admin):
        app.include_router(module.router)
    install_page_errors(app)
    app.add_middleware(PageHeadersMiddleware)
