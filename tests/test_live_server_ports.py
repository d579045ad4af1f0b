"""The live servers' ports: never one Chromium refuses to open."""

from __future__ import annotations

import itertools

import pytest

from tests.fixtures import live_server


def test_free_port_passes_over_the_ports_chromium_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CI run once drew 10080 (Chromium: net::ERR_UNSAFE_PORT) and a page test failed on its
    # first navigation. Start the count right at a refused port of this process's slice.
    base = live_server._SLICE_START + live_server._WORKER_INDEX * live_server._SLICE_SIZE
    refused = [port for port in live_server.BROWSER_REFUSED_PORTS if base <= port < base + live_server._SLICE_SIZE]
    if not refused:
        refused = [10080]
        monkeypatch.setattr(live_server, "_WORKER_INDEX", 0)
        base = live_server._SLICE_START
    monkeypatch.setattr(live_server, "_next_offset", itertools.count(refused[0] - base))
    assert live_server.free_port() not in live_server.BROWSER_REFUSED_PORTS
