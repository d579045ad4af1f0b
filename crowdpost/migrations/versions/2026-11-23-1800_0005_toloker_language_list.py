"""workforce: each Toloker's languages also as one text column, `|DE|EN|`

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-23 18:00:00

A recipient filter on languages then tests the row it already reads instead of probing
`toloker_languages` once per Toloker (bench/RESULTS.md, "Recipient filters").
`toloker_languages` stays the source the API lists languages from; both are written
together by the Toloker import.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = {
    "sqlite": (
        "UPDATE tolokers SET language_list = COALESCE((SELECT '|' || group_concat(language, '|') || '|' "
        "FROM toloker_languages WHERE toloker_languages.user_id = tolokers.id), '')"
    ),
    "postgresql": (
        "UPDATE tolokers SET language_list = '|' || l.codes || '|' FROM "
        "(SELECT user_id, string_agg(language, '|' ORDER BY language) AS codes "
        "FROM toloker_languages GROUP BY user_id) l WHERE l.user_id = tolokers.id"
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("tolokers") as batch:
        batch.add_column(sa.Column("language_list", sa.Text(), nullable=False, server_default=""))
    op.execute(_BACKFILL[op.get_bind().dialect.name])


def downgrade() -> None:
    with op.batch_alter_table("tolokers") as batch:
        batch.drop_column("language_list")
