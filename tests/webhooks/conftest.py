"""Webhook tests deliver to receivers on 127.0.0.1, so their servers allow private
addresses; a test about the SSRF guard parametrizes `webhook_allow_private` to False."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdpost.config import Settings
from tests.fixtures.factories import settings_for


@pytest.fixture
def webhook_allow_private() -> bool:
    return True


@pytest.fixture
def settings(db_url: str, tmp_path: Path, webhook_allow_private: bool) -> Settings:
    return settings_for(db_url, tmp_path, webhook_allow_private=webhook_allow_private)
