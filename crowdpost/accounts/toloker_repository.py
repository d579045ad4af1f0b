"""SQL of the Toloker's page sign-in: Toloker passwords and `toloker_web_sessions`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from crowdpost.accounts.repository import expired
from crowdpost.models import Toloker, TolokerWebSession


def password_candidates(session: Session, email: str) -> list[tuple[str, str]]:
    """(user id, hash) of Tolokers with this lower-case e-mail and a password, oldest first."""
    rows = session.execute(
        select(Toloker.id, Toloker.password_hash)
        .where(func.lower(Toloker.email) == email, Toloker.password_hash.is_not(None))
        .order_by(Toloker.created, Toloker.id)
        .limit(10)
    ).all()
    return [(user_id, password_hash) for user_id, password_hash in rows if password_hash is not None]


def set_password_hash(session: Session, user_id: str, password_hash: str) -> bool:
    result = session.execute(update(Toloker).where(Toloker.id == user_id).values(password_hash=password_hash))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_web_session(session: Session, session_hash: str, user_id: str, csrf_token: str, now: datetime) -> None:
    session.execute(
        insert(TolokerWebSession).values(
            session_hash=session_hash, user_id=user_id, csrf_token=csrf_token, created=now, last_seen=now
        )
    )


def web_session_by_hash(session: Session, session_hash: str) -> Row[int, str, str, datetime, datetime] | None:
    """(id, user_id, csrf_token, created, last_seen) of the session with this cookie hash."""
    return session.execute(
        select(
            TolokerWebSession.id,
            TolokerWebSession.user_id,
            TolokerWebSession.csrf_token,
            TolokerWebSession.created,
            TolokerWebSession.last_seen,
        ).where(TolokerWebSession.session_hash == session_hash)
    ).one_or_none()


def touch_web_session(session: Session, session_id: int, now: datetime, idle_cutoff: datetime) -> bool:
    result = session.execute(
        update(TolokerWebSession)
        .where(TolokerWebSession.id == session_id, TolokerWebSession.last_seen >= idle_cutoff)
        .values(last_seen=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_web_session(session: Session, session_hash: str) -> None:
    session.execute(delete(TolokerWebSession).where(TolokerWebSession.session_hash == session_hash))


def delete_web_sessions(session: Session, user_id: str) -> None:
    session.execute(delete(TolokerWebSession).where(TolokerWebSession.user_id == user_id))


def delete_expired_web_sessions(
    session: Session, user_id: str, idle_cutoff: datetime, absolute_cutoff: datetime
) -> None:
    stale = expired(TolokerWebSession, idle_cutoff, absolute_cutoff)
    session.execute(delete(TolokerWebSession).where(TolokerWebSession.user_id == user_id, stale))
