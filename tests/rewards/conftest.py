"""Fixtures for rewards tests: a crew of Tolokers, a requester client, a background worker."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crowdpost.db import Database
from crowdpost.worker.loop import EmbeddedWorker
from tests.fixtures.factories import Admin, RequesterInfo
from tests.rewards.helpers import Crew, auth_client, make_crew


@pytest.fixture
def crew(db: Database, admin: Admin, requester: RequesterInfo) -> Crew:
    return make_crew(db, admin, requester)


@pytest.fixture
def client(server_url: str, requester: RequesterInfo) -> Iterator[httpx.Client]:
    with auth_client(server_url, requester.token) as http_client:
        yield http_client


@pytest.fixture
def worker(db: Database, server_url: str) -> Iterator[EmbeddedWorker]:
    """A worker thread polling every 50 ms, as `crowdpost serve` runs one (toloka-kit's
    default bonus path waits for the operation to finish)."""
    embedded = EmbeddedWorker(db, 0.05)
    embedded.start()
    yield embedded
    embedded.stop()
