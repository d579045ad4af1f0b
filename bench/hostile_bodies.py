"""Hostile bodies: what two concurrent anonymous 24 MB POSTs cost the server's memory.

    .venv/bin/python bench/hostile_bodies.py [--backend sqlite|postgresql|both] [--size-mb 24] [--no-write]

Per backend: a fresh database; `crowdpost serve --no-worker` as its own process on a free
loopback port (bench/common.py); one requester created through the admin API. Then, one
phase at a time, the server's peak RSS (VmHWM from /proc/<pid>/status, reset between
phases through /proc/<pid>/clear_refs when the kernel allows it) is read before and after:

1. baseline: two concurrent authenticated 1 KB `POST /api/v1/user-bonuses`;
2. two concurrent anonymous `--size-mb` MB POSTs of `[{},{},...]` with a real Content-Length;
3. the same, chunked (no Content-Length);
4. the same with a made-up token (the token lookup runs, the body is still not read).

Each POST is sent over a raw socket that keeps writing the body until the answer arrives,
as an attacker's client would; the figure beside each phase is how much of the body the
server took before answering. Target (issue 19): the peak rises by less than 64 MB.

Writes a "Hostile bodies" section into bench/RESULTS.md (other sections are left alone).
The helpers (`post_raw`, `peak_rss`, `reset_peak`) are used by tests/security too.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import selectors
import socket
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ADMIN, backend_url, server, write_section  # noqa: E402

MB = 1024 * 1024
TARGET_MB = 64
SEND_PIECE = 64 * 1024


# --- the server's memory ------------------------------------------------------------------


def _status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss(pid: int) -> int:
    """Resident set size in bytes (/proc VmRSS, else psutil)."""
    kib = _status_kib(pid, "VmRSS")
    if kib is not None:
        return kib * 1024
    import psutil  # type: ignore[import-untyped]

    return int(psutil.Process(pid).memory_info().rss)


def peak_rss(pid: int) -> int:
    """Peak resident set size in bytes: /proc VmHWM (the high-water mark), else the current RSS."""
    kib = _status_kib(pid, "VmHWM")
    return kib * 1024 if kib is not None else current_rss(pid)


def reset_peak(pid: int) -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0, same user); False where that is refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


# --- an attacker's client -------------------------------------------------------------------


def json_array(size: int, items: int | None = None) -> bytes:
    """`[{},{},...]` of exactly `size` bytes: as many `{}` as fit (or `items` of them),
    padded with spaces before the `]`."""
    count = max(0, (size - 4) // 3) if items is None else max(0, items - 1)
    body = b"[" + b"{}," * count + b"{}"
    return body + b" " * (size - len(body) - 1) + b"]"


@dataclass
class RawAnswer:
    status: int | None  # None: no answer before the connection ended
    body: bytes
    body_bytes_sent: int  # how much of the body the client got to send before the answer
    error: str | None = None

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def _wire_pieces(body: memoryview, *, chunked: bool, finished: bool) -> Iterator[tuple[memoryview, bool]]:
    """The body as it goes on the wire, in pieces of at most SEND_PIECE bytes, each with
    whether it is body (True) or chunk framing (False). `finished=False` leaves a chunked
    body without its terminating chunk."""
    for start in range(0, len(body), SEND_PIECE):
        piece = body[start : start + SEND_PIECE]
        if chunked:
            yield memoryview(f"{len(piece):x}\r\n".encode()), False
        yield piece, True
        if chunked:
            yield memoryview(b"\r\n"), False
    if chunked and finished:
        yield memoryview(b"0\r\n\r\n"), False


def _parse_answer(data: bytes) -> tuple[int, bytes] | None:
    """(status, body) once `data` holds a whole response with a Content-Length, else None."""
    end = data.find(b"\r\n\r\n")
    if end == -1:
        return None
    head = data[:end].split(b"\r\n")
    status = int(head[0].split()[1])
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if len(data) < end + 4 + length:
        return None
    return status, data[end + 4 : end + 4 + length]


def post_raw(
    base_url: str,
    path: str,
    body: bytes,
    *,
    chunked: bool = False,
    headers: dict[str, str] | None = None,
    send_at_most: int | None = None,
    timeout: float = 60,
) -> RawAnswer:
    """POST `body` over a raw socket, reading while writing: stops sending as soon as the
    answer is in (a server that answers early is not made to wait), or after `send_at_most`
    body bytes (then waits for the answer with the rest never sent).

    With `chunked`, the body goes as chunks with no Content-Length. `timeout` bounds each
    wait for the socket, so a server that waits for bytes that never come fails the call.
    """
    url = urlsplit(base_url)
    lines = [f"POST {path} HTTP/1.1", f"Host: {url.hostname}:{url.port}", "Content-Type: application/json"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    view = memoryview(body)
    if send_at_most is not None:
        view = view[:send_at_most]
    pieces = itertools.chain(
        [(memoryview(head), False)], _wire_pieces(view, chunked=chunked, finished=send_at_most is None)
    )

    received = bytearray()
    sent_body = 0
    pending: memoryview | None = None
    pending_is_body = False
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            writing = True
            while True:
                events = selector.select(timeout)
                if not events:
                    return RawAnswer(None, bytes(received), sent_body, "timed out waiting for the server")
                for _key, mask in events:
                    if mask & selectors.EVENT_READ:
                        try:
                            data = sock.recv(65536)
                        except ConnectionError as exc:
                            return RawAnswer(None, bytes(received), sent_body, repr(exc))
                        if not data:
                            parsed = _parse_answer(bytes(received))
                            if parsed is None:
                                return RawAnswer(None, bytes(received), sent_body, "connection closed")
                            return RawAnswer(parsed[0], parsed[1], sent_body)
                        received += data
                        parsed = _parse_answer(bytes(received))
                        if parsed is not None:
                            return RawAnswer(parsed[0], parsed[1], sent_body)
                    if writing and mask & selectors.EVENT_WRITE:
                        if pending is None:
                            following = next(pieces, None)
                            if following is None:
                                writing = False
                                selector.modify(sock, selectors.EVENT_READ)
                                continue
                            pending, pending_is_body = following
                        try:
                            written = sock.send(pending)
                        except (BrokenPipeError, ConnectionResetError):
                            writing = False
                            selector.modify(sock, selectors.EVENT_READ)
                            continue
                        if pending_is_body:
                            sent_body += written
                        pending = pending[written:] if written < len(pending) else None


def concurrently(count: int, call: Callable[[], RawAnswer]) -> list[RawAnswer]:
    """`count` calls at once, each in its own thread, released together."""
    barrier = threading.Barrier(count)
    answers: list[RawAnswer | None] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        answers[index] = call()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer for answer in answers if answer is not None]


# --- the bench ------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    statuses: list[int | None]
    rss_before: int
    peak_after: int
    body_taken: list[int]
    peak_reset: bool

    @property
    def increase(self) -> int:
        return max(0, self.peak_after - self.rss_before)


def measure(pid: int, name: str, action: Callable[[], list[RawAnswer]]) -> Phase:
    # Against the RSS just before: where the peak cannot be reset, an older peak (startup)
    # can only make the rise look larger, never smaller.
    peak_reset = reset_peak(pid)
    before = current_rss(pid)
    answers = action()
    return Phase(
        name=name,
        statuses=[answer.status for answer in answers],
        rss_before=before,
        peak_after=peak_rss(pid),
        body_taken=[answer.body_bytes_sent for answer in answers],
        peak_reset=peak_reset,
    )


def run_backend(name: str, size: int) -> tuple[int, list[Phase]]:
    with (
        tempfile.TemporaryDirectory(prefix="crowdpost-bench-hostile-") as root,
        backend_url(name, Path(root), "bench_hostile") as url,
        server(url, worker=False) as (base, proc),
    ):
        admin = {"Authorization": f"OAuth {ADMIN}"}
        created = httpx.post(
            f"{base}/api/admin/v1/requesters", json={"public_name": "Bench", "balance": "100"}, headers=admin
        )
        created.raise_for_status()
        token = created.json()["token"]
        for _ in range(20):  # warm the paths the phases take
            httpx.get(f"{base}/healthz")
            post_raw(
                base, "/api/v1/user-bonuses", json_array(1024, items=10), headers={"Authorization": f"OAuth {token}"}
            )
            post_raw(base, "/api/v1/user-bonuses", json_array(1024, items=10))
        idle = current_rss(proc.pid)
        hostile = json_array(size)
        small = json_array(1024, items=10)
        path = "/api/v1/user-bonuses"
        phases = [
            measure(
                proc.pid,
                "baseline: two authenticated 1 KB POSTs",
                lambda: concurrently(
                    2, lambda: post_raw(base, path, small, headers={"Authorization": f"OAuth {token}"})
                ),
            ),
            measure(
                proc.pid,
                f"two anonymous {size // MB} MB POSTs, Content-Length",
                lambda: concurrently(2, lambda: post_raw(base, path, hostile)),
            ),
            measure(
                proc.pid,
                f"two anonymous {size // MB} MB POSTs, chunked",
                lambda: concurrently(2, lambda: post_raw(base, path, hostile, chunked=True)),
            ),
            measure(
                proc.pid,
                f"two {size // MB} MB POSTs with a made-up token",
                lambda: concurrently(
                    2, lambda: post_raw(base, path, hostile, headers={"Authorization": "OAuth cpr_made-up"})
                ),
            ),
        ]
        return idle, phases


def _size(count: int) -> str:
    return f"{count / MB:.1f} MB" if count >= MB else f"{count / 1024:.0f} KB"


def report(results: dict[str, tuple[int, list[Phase]]], size: int) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        "## Hostile bodies",
        "",
        f"`bench/hostile_bodies.py --size-mb {size // MB}` on {os.cpu_count()} cores, {today}. Each row sends two"
        " POSTs at once to `crowdpost serve` (its own process) and reads the server's peak RSS"
        " (VmHWM, reset before each row) against its RSS just before. Target: a rise below"
        f" {TARGET_MB} MB for the anonymous rows.",
        "",
        "| backend | request (x2, concurrent) | answers | body sent before the 401 (each) | RSS before | peak rise |",
        "|---|---|---|---|---:|---:|",
    ]
    for backend, (idle, phases) in results.items():
        for phase in phases:
            statuses = ", ".join(str(status) for status in phase.statuses)
            taken = ", ".join(
                f"{taken / MB:.1f} MB" if taken >= MB else f"{taken / 1024:.0f} KB" for taken in phase.body_taken
            )
            lines.append(
                f"| {backend} | {phase.name} | {statuses} | {taken} | {phase.rss_before / MB:.0f} MB"
                f" | {phase.increase / MB:.1f} MB |"
            )
        lines.append(f"| {backend} | idle, after warm-up | | | {idle / MB:.0f} MB | |")
    how = (
        "How to read it: the token is checked from the headers before a byte of body is received"
        " (`crowdpost/middleware.py`), so an anonymous caller or a made-up token gets its 401 while"
        " the body is still on the wire. The body column is what the client got to write before the"
        " 401 reached it: mostly loopback socket buffers; uvicorn holds at most 64 KiB of it per"
        " connection and discards the rest unparsed. The baseline rows answer 400 (`{}` is not a"
        " bonus): their bodies are read and parsed. Before this change (commit 74cc88c, same bench,"
        " same machine) the whole body was read and decoded as JSON before the token was looked at:"
        " the Content-Length row rose by 1,286 MB and the chunked row by 1,319 MB (the issue measured"
        " 127 MB -> 1,521 MB)."
    )
    lines += ["", *textwrap.wrap(how, width=95)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--size-mb", type=int, default=24)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    args = parser.parse_args()
    size = args.size_mb * MB
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = {name: run_backend(name, size) for name in backends}
    section = report(results, size)
    print(section)
    over = [
        (backend, phase.name)
        for backend, (_idle, phases) in results.items()
        for phase in phases[1:]
        if phase.increase >= TARGET_MB * MB
    ]
    for backend, name in over:
        print(f"OVER TARGET: {backend}: {name}", file=sys.stderr)
    if not args.no_write:
        write_section("Hostile bodies", section)
    if over:
        sys.exit(1)


if __name__ == "__main__":
    main()
