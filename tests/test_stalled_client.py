"""A browser that stops reading its live stream (a frozen tab, a dead school network)
must not slow the other students nor grow the server's memory: the stream sends only
the newest state, so a stalled socket just holds back its own frames."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
from urllib.parse import urlsplit

import pytest
from browser import running_app

from benchmarks.student import Student, encode_command, open_session

pytestmark = pytest.mark.browser  # starts the app, as the browser tests do


def stalled_stream(url: str, path: str) -> socket.socket:
    """A live stream opened by hand that sends Play and then never reads a byte."""
    host = urlsplit(url)
    sock = socket.create_connection((host.hostname, host.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills up at once
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nOrigin: {url}\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:  # the handshake's answer, and nothing after it
        answer += sock.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    payload, mask = encode_command("play").encode(), os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)
    return sock


def server_rss(server) -> int:
    return sum(p.memory_info().rss for p in server.tree() if p.is_running())


async def rates(server, seconds: float, others: int, stalled: bool
                ) -> tuple[float, float, list[int]]:
    """A reading student's epochs/s and frames/s while ``others`` play beside it, read
    or (``stalled``) never read, and the server's memory sampled throughout."""
    url = server.url
    reader = Student(url)
    await reader.open()
    stalls = []
    for _ in range(others):
        if stalled:
            page, data = await open_session(url, "dataset=xor")
            stalls.append(stalled_stream(url, f"{data['base_path']}/live/{data['token']}"))
            asyncio.create_task(Student._drain(page))  # its page socket stays healthy
        else:
            other = Student(url)
            await other.open()
            await other.command("play")
    await reader.command("play")
    await asyncio.sleep(3)  # everyone playing, the stalled sockets' buffers full
    memory, start, first = [], time.monotonic(), len(reader.arrivals)
    epoch0 = reader.total
    while time.monotonic() - start < seconds:
        memory.append(server_rss(server))
        await asyncio.sleep(1)
    elapsed = time.monotonic() - start
    frames = (len(reader.arrivals) - first) / elapsed
    for sock in stalls:
        sock.close()
    return (reader.total - epoch0) / elapsed, frames, memory


def test_a_client_that_never_reads_slows_no_one_and_holds_no_memory():
    with running_app() as server:
        asyncio.run(rates(server, 2, 0, False))  # warm: workers and imports
        # the same work beside the reader (three playing sessions), read or not: no
        # timing target here (make bench has those), only the two compared in one run
        reading, reading_fps, _ = asyncio.run(rates(server, 10, 3, False))
        beside, beside_fps, memory = asyncio.run(rates(server, 16, 3, True))
    assert beside > 0.6 * reading, (reading, beside)
    assert beside_fps > 0.6 * reading_fps, (reading_fps, beside_fps)
    # the stalled streams' frames are not queued: the server's memory stays flat
    growth = max(memory[len(memory) // 2:]) - memory[1]
    assert growth < 30 << 20, [m >> 20 for m in memory]
