"""The signed-in Toloker of a page request and the CSRF check of their forms.

Like `web.session` for requesters, with a cookie and session table of its own: a requester's
cookie is not read here and a Toloker's cookie is not read there, so each side's pages send
the other's sessions to their own sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from crowdpost.accounts.toloker_web_sessions import TolokerWebSession, authenticate_web
from crowdpost.dependencies import SettingsDep, get_db
from crowdpost.web.session import Header, SignedIn, SignInRequired, come_back_to, csrf_checked

COOKIE = "crowdpost_toloker_session"
HOME = "/toloker/messages"


@dataclass(frozen=True)
class TolokerPageUser(SignedIn[TolokerWebSession]):
    @property
    def user_id(self) -> str:
        return self.web.user_id


class TolokerSignInRequired(SignInRequired):
    """Answered by web.errors with a redirect to `redirect_to`."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.redirect_to = "/toloker/sign-in?next=" + quote(next_url, safe="/")


def safe_toloker_next(target: str | None) -> str:
    """A redirect target under /toloker/ only (never another host, never a requester page)."""
    if not target or not target.startswith("/toloker/") or len(target) > 2000:
        return HOME
    if "\\" in target or any(ord(ch) < 0x20 for ch in target):
        return HOME
    return target


def require_toloker(request: Request, settings: SettingsDep) -> TolokerPageUser:
    web = authenticate_web(get_db(request), settings, request.cookies.get(COOKIE))
    if web is None:
        raise TolokerSignInRequired(come_back_to(request, HOME))
    user = TolokerPageUser(web=web, header=Header(name=web.user_id, public_id=web.user_id))
    request.state.page_user = user  # base.html shows the header and the CSRF token
    return user


require_toloker_csrf = csrf_checked(require_toloker)


TolokerPageDep = Annotated[TolokerPageUser, Depends(require_toloker)]
TolokerFormDep = Annotated[TolokerPageUser, Depends(require_toloker_csrf)]
