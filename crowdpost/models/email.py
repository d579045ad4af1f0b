"""Server secrets: random keys created once per installation and kept in the database, so
every process of one installation signs and checks the same links (crowdpost.email.links)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, created_column


class ServerSecret(Base):
    """One random key per purpose, e.g. `email_links`. Never a constant: the first process
    that needs it inserts 32 random bytes; everyone after reads them."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created: Mapped[datetime] = created_column()
