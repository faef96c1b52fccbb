"""The server process as ``make run`` starts it, driven without a browser (simulated
students from ``benchmarks.student``): a watched session outlives the idle timeout and
an unwatched one does not, a session pauses when nobody watches (not while its page
mounts the live view anew), half-sent requests are closed, an idle kept-alive
connection too, a dropped connection leaves no traceback in the log, a stopped worker
is replaced and its page told so, and a killed forkserver leaves its workers in the
server's process tree, where shutdown ends them.

One server (short idle and header timeouts, two workers) serves the module; the last
test stops it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from browser import running_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.student import Student, endpoints  # noqa: E402
from playground.server.connections import KEEP_ALIVE_S, uvicorn_settings  # noqa: E402
from playground.server.pool import DEAD_AFTER_S  # noqa: E402
from playground.server.protocol import DETACH_GRACE_S  # noqa: E402

HEADER_TIMEOUT_S = 2.0
IDLE_TIMEOUT_S = 6.0  # longer than a detached session waits before it pauses
SWEEP_S = 2.0  # the janitor's round


@pytest.fixture(scope="module")
def server():
    env = {"PLAYGROUND_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
           "PLAYGROUND_IDLE_TIMEOUT_S": str(IDLE_TIMEOUT_S), "PLAYGROUND_WORKERS": "2"}
    with running_app(env=env) as app:
        yield app


def healthy(server) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def status(server) -> dict:
    with urllib.request.urlopen(f"{server.url}/playground-status", timeout=5) as reply:
        return json.loads(reply.read())


class LogSince:
    """What the server wrote to its log from now on."""

    def __init__(self, server) -> None:
        self.path, self.start = server.log_path, server.log_path.stat().st_size

    def text(self) -> str:
        with open(self.path, "rb") as log:
            log.seek(self.start)
            return log.read().decode(errors="replace")


# -- the idle timeout -------------------------------------------------------------------------
async def _close_code(url: str, token: str) -> int | None:
    base, _, origin = endpoints(url)
    from websockets.asyncio.client import connect

    async with connect(f"{base}/live/{token}", origin=origin, proxy=None) as ws:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.recv(), 5)
        await asyncio.sleep(0.1)
        return ws.close_code


async def _watch_past_the_idle_timeout(url: str) -> tuple[Student, list[int], int | None]:
    student = Student(url)
    await student.open()
    await student.play()
    epochs = []
    for _ in range(int((IDLE_TIMEOUT_S + 2 * SWEEP_S) / 0.5)):  # nobody clicks
        await asyncio.sleep(0.5)
        epochs.append(student.epoch)
    assert student.closed_code is None and not student.errors  # nothing ended the stream
    # then the page goes without a word (no "unloaded"): its session goes in time
    student.live.transport.abort()
    await asyncio.sleep(IDLE_TIMEOUT_S + SWEEP_S + 1)
    code = await _close_code(url, student.data["token"])
    for task in student.tasks:
        task.cancel()
    await student.page.close()
    return student, epochs, code


def test_a_watched_session_outlives_the_idle_timeout(server):
    student, epochs, code = asyncio.run(_watch_past_the_idle_timeout(server.url))
    assert epochs == sorted(epochs) and epochs[-1] > epochs[0] > 0  # never back to 0
    assert code == 4404  # unwatched past the timeout: closed (the page is told on return)


async def _detach(student: Student, for_s: float) -> bool:
    """Close the page's live stream, open it again after ``for_s`` s; whether the first
    message on the new stream says playing."""
    await student.live.close()
    await asyncio.sleep(for_s)
    count = len(student.arrivals)
    await student.attach()
    deadline = time.monotonic() + 10
    while len(student.arrivals) == count and time.monotonic() < deadline:
        await student._wait_news(deadline)
    return student.flags[count]


async def _remount_then_leave(url: str) -> tuple[bool, bool]:
    student = Student(url)
    await student.open()
    await student.play()
    remounted = await _detach(student, 0.2)  # a rerun mounting the live view anew
    left = await _detach(student, DETACH_GRACE_S + 1.0)  # nobody watched a while
    for task in student.tasks:
        task.cancel()
    await student.live.close()
    await student.page.close()
    return remounted, left


def test_a_session_pauses_when_nobody_watches_but_not_while_its_view_remounts(server):
    remounted, left = asyncio.run(_remount_then_leave(server.url))
    assert remounted, "a stream closed and opened again at once paused the run"
    assert not left, "a session nobody watched went on training"


# -- HTTP: header and keep-alive timeouts --------------------------------------------------
async def _held_for(port: int, trickle: bool, limit: float) -> float | None:
    """Open a connection that sends a request line and then a header line every 0.5 s
    without ever ending the headers (or, not trickle, sends nothing); seconds until the
    server closed it, None if it was still open after ``limit`` s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.monotonic()
    try:
        if trickle:
            writer.write(b"GET /_stcore/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while time.monotonic() - start < limit:
            try:
                if not await asyncio.wait_for(reader.read(1024), 0.5):
                    return time.monotonic() - start
            except TimeoutError:
                if trickle:
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
        return None
    except OSError:  # reset: closed all the same
        return time.monotonic() - start
    finally:
        writer.close()


def test_half_sent_requests_are_closed_at_the_header_timeout(server):
    async def attack():
        held = [_held_for(server.port, trickle=i % 5 != 0, limit=4 * HEADER_TIMEOUT_S)
                for i in range(60)]
        return await asyncio.gather(*held)

    closed_after = asyncio.run(attack())
    assert None not in closed_after, f"{closed_after.count(None)} of 60 still open"
    assert all(HEADER_TIMEOUT_S - 0.2 <= t <= HEADER_TIMEOUT_S + 1.5 for t in closed_after), \
        closed_after
    assert healthy(server)


def test_an_idle_kept_alive_connection_closes(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=KEEP_ALIVE_S + 5) as sock:
        sock.sendall(b"GET /_stcore/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = b""
        while not reply.endswith(b"ok"):
            reply += sock.recv(4096)
        answered = time.monotonic()
        assert reply.startswith(b"HTTP/1.1 200")
        assert sock.recv(4096) == b""  # the server closed it
        assert KEEP_ALIVE_S - 0.5 <= time.monotonic() - answered <= KEEP_ALIVE_S + 1.5


async def _nodelay_of_a_connection(http) -> int:
    """TCP_NODELAY of the server's end of a connection, the listening socket bound as
    Streamlit binds it (``socket.socket(family)``: protocol 0)."""
    import uvicorn

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    listener = socket.socket(family=socket.AF_INET)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning",
                                           http=http))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_connection(*listener.getsockname())
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await reader.readline()
    (connection,) = server.server_state.connections
    nodelay = connection.transport.get_extra_info("socket").getsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY)
    writer.close()
    server.should_exit = True
    await serving
    return nodelay


def test_the_server_sends_at_once_without_nagles_algorithm():
    """A frame that follows another within a round trip must not wait for the browser's
    delayed acknowledgement (40 ms): uvicorn's own protocol on Streamlit's socket leaves
    Nagle's algorithm on; the server's protocol turns it off."""
    assert asyncio.run(_nodelay_of_a_connection(uvicorn_settings()["http"]))
    assert not asyncio.run(_nodelay_of_a_connection("h11"))


# -- a dropped connection ------------------------------------------------------------------
async def _drop_everything(url: str) -> Student:
    """A playing student whose live stream, a bogus handshake and its page's own socket
    all drop without a closing handshake (a closed laptop, a lost network)."""
    student = Student(url)
    await student.open()
    await student.play()
    # the WebSockets outlive the header timeout: only a request's headers are timed
    await asyncio.sleep(HEADER_TIMEOUT_S + 1)
    assert student.closed_code is None and student.epoch > 0
    student.live.transport.abort()
    _, _, origin = endpoints(url)
    port = int(url.rsplit(":", 1)[1])
    for wait in (0.0, 0.2):  # during the unknown token's pause, and before it
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(f"GET /live/{'x' * 32} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Upgrade: websocket\r\nConnection: Upgrade\r\nOrigin: {origin}\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        await writer.drain()
        await asyncio.sleep(wait)
        writer.transport.abort()
    await asyncio.sleep(1.0)
    student.page.transport.abort()
    await asyncio.sleep(1.5)  # the unknown token's pause, and the handlers' ends
    for task in student.tasks:
        task.cancel()
    return student


def test_a_dropped_connection_leaves_no_traceback_in_the_log(server):
    log = LogSince(server)
    asyncio.run(_drop_everything(server.url))
    text = log.text()
    assert "Traceback" not in text and "Exception" not in text, text[-3000:]
    assert healthy(server)


# -- workers ------------------------------------------------------------------------------
async def _watch_a_stopped_worker(server) -> tuple[Student, float]:
    student = Student(server.url)
    await student.open()
    await student.play()
    await asyncio.sleep(2.0)  # past a snapshot
    pids = [w["pid"] for w in status(server)["workers"]]
    for pid in pids:  # every worker: the student's session is on one of them
        os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        while not student.notices and time.monotonic() - stopped < 30:
            await asyncio.sleep(0.1)
        noticed = time.monotonic() - stopped
        resumed_from = student.epoch  # the snapshot's (or a later frame's) epoch
        while student.epoch <= resumed_from + 20 and time.monotonic() - stopped < 40:
            await asyncio.sleep(0.1)
        assert student.epoch > resumed_from + 20, "training did not go on"
    finally:
        for pid in pids:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
    await student.close()
    return student, noticed


def test_a_stopped_worker_is_replaced_and_its_page_told(server):
    pids = {w["pid"] for w in status(server)["workers"]}
    assert all(w["healthy"] and w["last_beat_s"] < 1.5 for w in status(server)["workers"])
    student, noticed = asyncio.run(_watch_a_stopped_worker(server))
    assert student.notices, "no notice"
    assert "stopped answering and was replaced" in student.notices[0][1]
    assert noticed < DEAD_AFTER_S + 4
    workers = status(server)["workers"]
    assert not {w["pid"] for w in workers} & pids and all(w["healthy"] for w in workers)
    assert all(w["restarts"] == 1 for w in workers)


def test_a_killed_forkserver_leaves_its_workers_to_the_server(server):
    root = psutil.Process(server.pid)
    forkserver = next(p for p in root.children() if "forkserver" in " ".join(p.cmdline()))
    workers = [psutil.Process(w["pid"]) for w in status(server)["workers"]]
    assert all(w.ppid() == forkserver.pid for w in workers)
    forkserver.kill()  # (a zombie until the server starts a new one: it is its child)
    deadline = time.monotonic() + 5
    while any(w.ppid() != server.pid for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    # still alive, in the server's tree: its memory accounting and its shutdown see them
    assert all(w.is_running() and w.ppid() == server.pid for w in workers)
    assert {w.pid for w in workers} <= {p.pid for p in server.tree()}
    assert healthy(server) and all(w["healthy"] for w in status(server)["workers"])
    # a worker that dies now is still replaced (by a new forkserver)
    workers[0].kill()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = status(server)["workers"]
        if now[0]["pid"] != workers[0].pid and now[0]["healthy"]:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"worker 0 was not replaced: {status(server)}")
    assert not psutil.pid_exists(workers[0].pid)  # reaped: no zombie left in the tree
    tree = server.tree()
    # shutdown (the server alone is told) ends every worker, whoever forked it
    os.kill(server.pid, signal.SIGTERM)
    gone, alive = psutil.wait_procs(tree, timeout=15)
    assert not alive, f"outlived the server: {alive}"
