"""Abuse of a running server, each measured while students play: a health prober and a
CPU meter run during every attack, and the students' epochs/s are taken before, during
and after it.

    python -m benchmarks.attacks          # starts an app, runs them all, prints JSON

Each attack is a coroutine taking the URL of a running app (plain http, as on
loopback) and a list of playing students (start_students); it runs for a bounded time
and returns a dict of raw figures: baseline (no attack), flood_messages, huge_message,
many_watchers, bogus_tokens, foreign_origin. kill_worker(url) opens its own students.
The attacker shares the box with the server, as everything else on it does: "cores"
says who used the CPU ("others" well above 0 means another job skewed the figures).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import http.client
import json
import os
import random
import re
import secrets
import signal
import threading
import time
import urllib.request
from bisect import bisect_right
from collections import Counter
from urllib.parse import urlsplit

import psutil
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from benchmarks.common import browser, log, percentile
from benchmarks.student import Student, encode_command, endpoints, open_session

EVIL_ORIGIN = "http://evil.example"
NOTICE_EPOCH = re.compile(r"from epoch ([\d,]+)")


class Prober(threading.Thread):
    """GETs /_stcore/health every `interval` s on a new connection each time, as a load
    balancer's check does. A thread, not a task: a busy event loop here must not delay
    the checks (this process's loop only reads the students' frames, a few % of a core)."""

    def __init__(self, url: str, interval: float = 0.05, timeout: float = 1.0) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = parts.path.rstrip("/") + "/_stcore/health"
        self.interval, self.timeout = interval, timeout
        self.samples: list[tuple[float, bool]] = []  # (seconds, answered 200)
        self.halt = threading.Event()

    def _get(self) -> tuple[float, bool]:
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                conn.request("GET", self.path)
                reply = conn.getresponse()
                ok = reply.status == 200 and reply.read().strip() == b"ok"
            finally:
                conn.close()
        except OSError:  # timeouts included: a failed check counts at the time it took
            ok = False
        return time.perf_counter() - start, ok

    def run(self) -> None:
        due = time.monotonic()
        while not self.halt.is_set():
            self.samples.append(self._get())
            due = max(due + self.interval, time.monotonic())  # late: no catch-up burst
            self.halt.wait(due - time.monotonic())

    def __enter__(self) -> Prober:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.halt.set()
        self.join()

    def figures(self) -> dict:
        ms = [seconds * 1000 for seconds, _ in self.samples]
        return {"probes": len(ms), "failures": sum(not ok for _, ok in self.samples),
                **{f"{name}_ms": round(percentile(ms, q), 1) if ms else None
                   for name, q in (("p50", 50), ("p99", 99), ("max", 100))}}


def rates(students: list[Student], start: float, end: float) -> dict:
    each = [s.epochs_per_s(start, end) for s in students]
    return {"mean": round(sum(each) / len(each), 1), "min": round(min(each), 1),
            "max": round(max(each), 1)} if each else {}


def server_pid(url: str) -> int | None:
    """The process listening on url's port (ours, so psutil may see it)."""
    port = urlsplit(url).port or 80
    return next((c.pid for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid), None)


class CpuMeter:
    """Cores used from creation to figures(): the server process (its event loop), the
    rest of its tree (the workers), this process, and everything else on the box, which
    skews every figure here when other jobs share it. A process that dies in between
    takes its time along: it shows up under "others"."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.start = self._read()

    def _read(self) -> tuple[float, dict[int, float], float, float]:
        tree: dict[int, float] = {}
        with contextlib.suppress(psutil.Error, TypeError):
            root = psutil.Process(self.pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    tree[proc.pid] = sum(proc.cpu_times()[:2])
        box = psutil.cpu_times()
        return (time.monotonic(), tree, sum(psutil.Process().cpu_times()[:2]),
                sum(box) - box.idle - getattr(box, "iowait", 0.0))

    def figures(self) -> dict:
        (t0, tree0, me0, busy0), (t1, tree1, me1, busy1) = self.start, self._read()
        # a process started in between (a restarted worker) counts whole
        used = {pid: end - tree0.get(pid, 0.0) for pid, end in tree1.items()}
        server = used.pop(self.pid, 0.0)
        figures = {"server": server, "workers": sum(used.values()), "this_process": me1 - me0}
        figures["others"] = busy1 - busy0 - sum(figures.values())
        return {name: round(seconds / (t1 - t0), 2) for name, seconds in figures.items()}


def tree_pss_mib(pid: int) -> float:
    """PSS of a process and all its descendants (shared pages counted once, shared out)."""
    total = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            total += getattr(info, "pss", info.rss)
    return round(total / 2**20, 1)


def playground_status(url: str) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    with opener.open(f"{url.rstrip('/')}/playground-status", timeout=5) as reply:
        return json.loads(reply.read())


async def start_students(url: str, n: int = 10, query: str = "") -> list[Student]:
    """n sessions (query "" is the default config), all playing."""
    students = [Student(url, query) for _ in range(n)]
    await asyncio.gather(*(s.open() for s in students))
    await asyncio.gather(*(s.play() for s in students))
    return students


async def close_students(students: list[Student]) -> None:
    await asyncio.gather(*(s.close() for s in students), return_exceptions=True)


async def _drain(ws) -> None:
    """Read and drop: an unread socket stops reading at its queue's limit, and would
    then never see the server's close frame."""
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


def _connect(target: str, **options):
    # as student.py: straight to the server, no cap on what it sends us
    return connect(target, proxy=None, max_size=None, open_timeout=10, close_timeout=2,
                   **options)


async def _answer(target: str, hold: float = 2.0, **options) -> tuple[str, float]:
    """How the server answers one connection: refused at the handshake, closed with a
    code, or still open ("kept") after hold s; and how long that took."""
    start = time.monotonic()
    try:
        ws = await _connect(target, **options)
    except InvalidStatus as error:
        return f"refused {error.response.status_code}", time.monotonic() - start
    except (OSError, TimeoutError, InvalidHandshake) as error:
        return f"failed {type(error).__name__}", time.monotonic() - start
    try:
        async with asyncio.timeout(hold):
            async for _ in ws:
                pass
    except TimeoutError:
        await ws.close()
        return "kept", time.monotonic() - start
    except ConnectionClosed:
        pass
    return f"closed {ws.close_code}", time.monotonic() - start


def attack(body):
    """An attack as run by the CLI: it gets a session of its own (opened before anything
    is measured), the prober and the CPU meter run during it, and the students' epochs/s
    are taken over `settle` s before, during and `settle` s after it (a stalled server
    delivers frames late, which lowers a short window's rate on its own)."""

    @functools.wraps(body)
    async def run(url: str, students: list[Student], *args, settle: float = 3.0, **options):
        pid = server_pid(url)
        page, data = await open_session(url, "")
        reader = asyncio.create_task(_drain(page))  # else its send queue fills up
        live_url = f"{endpoints(url)[0]}{data.get('base_path', '')}/live/{data['token']}"
        try:
            before = time.monotonic()
            await asyncio.sleep(settle)
            start, cpu = time.monotonic(), CpuMeter(pid)
            with Prober(url) as probe:
                result = await body(url, live_url, *args, **options)
            end, cores = time.monotonic(), cpu.figures()
            await asyncio.sleep(settle)
        finally:
            await page.close()
            reader.cancel()
        return {**result, "seconds": round(end - start, 2), "health": probe.figures(),
                "cores": cores, "students_epochs_per_s": {
                    "before": rates(students, before, start), "during": rates(students, start, end),
                    "after": rates(students, end, end + settle)}}
    return run


@attack
async def baseline(url: str, live_url: str, seconds: float = 5.0) -> dict:
    """No attack: the figures every attack is held against."""
    await asyncio.sleep(seconds)
    return {}


async def _raw_stream(url: str, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand (plain ws:// only): the flood writes its own frames,
    and may leave the server's close frame unanswered, which no client library does."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 f"Sec-WebSocket-Version: 13\r\nOrigin: {endpoints(url)[2]}\r\n\r\n".encode())
    status = (await reader.readuntil(b"\r\n\r\n")).split(b" ", 2)[1]
    if status != b"101":
        writer.close()
        raise ConnectionError(f"handshake answered {status.decode()}")
    return reader, writer


async def _close_code(reader: asyncio.StreamReader) -> tuple[int, float] | None:
    """Read the server's frames (unmasked) up to its close frame: its code and arrival;
    None if the connection ends first."""
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            head = await reader.readexactly(2)
            size = head[1] & 0x7F
            if size >= 126:
                size = int.from_bytes(await reader.readexactly(2 if size == 126 else 8), "big")
            body = await reader.readexactly(size)
            if head[0] & 0x0F == 0x8:
                code = int.from_bytes(body[:2], "big") if len(body) >= 2 else 1005
                return code, time.monotonic()
    return None


@attack
async def flood_messages(url: str, live_url: str, seconds: float = 5.0,
                         rate: float | None = 100_000, answer_close: bool = True,
                         batch: int = 1000) -> dict:
    """Play/pause commands at `rate` a second (None: as fast as the socket takes them)
    for `seconds`, reconnecting each time the server closes the stream (an attacker
    would). Frames are pre-built and written by hand: a client library's send() tops
    out far below 100k messages/s. "Written" means handed to the socket, not read by
    the server. A polite flooder (answer_close) stops at the server's close frame and
    answers it; a rude one keeps writing until the server drops the connection."""
    frames = bytearray()
    for i in range(batch):  # masked with a zero key (any key is valid): payload as is
        payload = encode_command("play" if i % 2 == 0 else "pause").encode()
        frames += bytes([0x81, 0x80 | len(payload), 0, 0, 0, 0]) + payload
    frames = bytes(frames)
    path = urlsplit(live_url).path
    codes, per_connection, to_close, lasted = Counter(), [], [], []
    start = due = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        try:
            reader, writer = await _raw_stream(url, path)
        except (OSError, asyncio.IncompleteReadError) as error:
            codes[f"refused: {error!r}"] += 1
            continue
        closed, written, opened = asyncio.create_task(_close_code(reader)), 0, time.monotonic()
        with contextlib.suppress(ConnectionError):
            while (not closed.done() or not answer_close) and time.monotonic() < deadline:
                if rate and time.monotonic() < due:
                    await asyncio.sleep(0.001)  # ahead of the rate
                    continue
                writer.write(frames)
                written += batch
                due = max(due + batch / rate, time.monotonic() - 0.1) if rate else due
                await writer.drain()  # waits while the kernel's buffers are full
                await asyncio.sleep(0)  # let the reader see a close frame
        with contextlib.suppress(OSError):  # our close (or reply), then end our side
            writer.write(b"\x88\x82\0\0\0\0" + (1000).to_bytes(2, "big"))
            writer.write_eof()
        with contextlib.suppress(TimeoutError, OSError):
            # until the server drops the connection: it reads (and parses) all we wrote
            # before it gets to our close frame
            await asyncio.wait_for(closed, 15)
            await asyncio.wait_for(reader.read(), 15)
        lasted.append(time.monotonic() - opened)
        writer.close()
        close = closed.result() if closed.done() else None
        if close:
            to_close.append(close[1] - opened)
        codes[str(close[0]) if close else "no close frame"] += 1
        per_connection.append(written)
    elapsed = time.monotonic() - start

    def median(values: list[float]) -> float | None:
        return round(percentile(values, 50), 3) if values else None

    return {"rate_asked": rate, "answer_close": answer_close,
            "connections": len(per_connection), "messages_written": sum(per_connection),
            "messages_per_s": round(sum(per_connection) / elapsed),
            "messages_per_connection_median": median(per_connection),
            "close_codes": dict(codes), "seconds_to_close_frame_median": median(to_close),
            "seconds_connection_lasted_median": median(lasted),
            "seconds_connection_lasted_max": round(max(lasted), 3) if lasted else None}


async def _send_huge(target: str, payload: str | bytes, rss_of: psutil.Process, **options
                     ) -> dict:
    ws = await _connect(target, **options)
    reader = asyncio.create_task(_drain(ws))
    peak = before = rss_of.memory_info().rss

    async def watch_rss() -> None:  # the server process's RSS, for a transient buffer
        nonlocal peak
        while True:
            peak = max(peak, rss_of.memory_info().rss)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch_rss())
    start, outcome = time.monotonic(), "sent"
    try:
        await asyncio.wait_for(ws.send(payload), 15)
    except ConnectionClosed:
        outcome = "closed while sending"
    except TimeoutError:
        outcome = "send timed out"
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ws.wait_closed(), 5)
    elapsed = time.monotonic() - start
    watcher.cancel()
    reader.cancel()
    return {"outcome": outcome, "close_code": ws.close_code, "close_reason": ws.close_reason,
            "seconds": round(elapsed, 3),
            "server_rss_peak_growth_mib": round((peak - before) / 2**20, 1)}


@attack
async def huge_message(url: str, live_url: str, size: int = 10 * 2**20) -> dict:
    """One message of `size` bytes on the live stream (text) and on Streamlit's own
    stream (binary); the server tree's PSS before and 2 s after."""
    pid = server_pid(url)
    pss_before = await asyncio.to_thread(tree_pss_mib, pid)
    base, prefix, origin = endpoints(url)
    live = await _send_huge(live_url, "x" * size, psutil.Process(pid), origin=origin)
    page = await _send_huge(f"{base}{prefix}/_stcore/stream", b"\0" * size,
                            psutil.Process(pid), origin=origin, subprotocols=["streamlit"])
    await asyncio.sleep(2.0)
    return {"bytes": size, "live": live, "page_stream": page, "pss_mib_before": pss_before,
            "pss_mib_after": await asyncio.to_thread(tree_pss_mib, pid)}


@attack
async def many_watchers(url: str, live_url: str, count: int = 100, hold: float = 3.0) -> dict:
    """count live streams at once on one token; a stream still open after hold s was kept."""
    answers = await asyncio.gather(*(_answer(live_url, hold, origin=endpoints(url)[2])
                                     for _ in range(count)))
    return {"watchers": count, "answers": dict(Counter(answer for answer, _ in answers))}


@attack
async def bogus_tokens(url: str, live_url: str, count: int = 300, at_once: int = 50) -> dict:
    """count streams on random tokens, at_once of them at a time."""
    base, prefix, origin = endpoints(url)
    gate = asyncio.Semaphore(at_once)

    async def one() -> tuple[str, float]:
        async with gate:
            token = secrets.token_urlsafe(24)
            return await _answer(f"{base}{prefix}/live/{token}", origin=origin)

    answers = await asyncio.gather(*(one() for _ in range(count)))
    ms = [seconds * 1000 for _, seconds in answers]
    return {"tokens": count, "answers": dict(Counter(answer for answer, _ in answers)),
            "answer_ms": {"p50": round(percentile(ms, 50), 1),
                          "p99": round(percentile(ms, 99), 1), "max": round(max(ms), 1)}}


@attack
async def foreign_origin(url: str, live_url: str, origin: str = EVIL_ORIGIN) -> dict:
    """A valid token's stream (and Streamlit's stream) opened from another site's page;
    and the live stream with no Origin at all (not a browser: nothing to forge)."""
    page_stream = f"{endpoints(url)[0]}{endpoints(url)[1]}/_stcore/stream"
    return {"origin": origin,
            "live": (await _answer(live_url, origin=origin))[0],
            "page_stream": (await _answer(page_stream, origin=origin,
                                          subprotocols=["streamlit"]))[0],
            "live_without_origin": (await _answer(live_url))[0]}


def _resumed_at(student: Student, notice_at: float) -> float | None:
    """When the first frame after the notice changed the epoch: the new worker at work."""
    first = bisect_right(student.arrivals, notice_at)
    if first == 0:
        return None
    at_notice = student.totals[first - 1]
    return next((student.arrivals[i] for i in range(first, len(student.arrivals))
                 if student.totals[i] != at_notice), None)


async def kill_worker(url: str, n: int = 10, query: str = "", train_s: float = 5.0,
                      after_s: float = 5.0, index: int = 0) -> dict:
    """SIGKILL worker `index` while n students (its own) play; who lost what, and when.

    The kill comes at a random moment of a second: snapshots are taken about once a
    second from play, so a fixed delay would always hit the same point of that cycle.
    An epoch "at kill" is the last one the page saw: up to one frame behind the worker.
    """
    students = await start_students(url, n, query)
    try:
        with Prober(url) as probe:
            await asyncio.sleep(train_s + random.random())
            before = await asyncio.to_thread(playground_status, url)
            victim, cpu = before["workers"][index], CpuMeter(server_pid(url))
            epochs = [s.epoch for s in students]
            seen = [len(s.notices) for s in students]
            killed_at = time.monotonic()
            os.kill(victim["pid"], signal.SIGKILL)
            give_up = killed_at + 10.0  # wait for a first notice, then watch after_s more
            while time.monotonic() < give_up and all(
                    len(s.notices) == k for s, k in zip(students, seen)):
                await asyncio.sleep(0.05)
            await asyncio.sleep(after_s)
            end, cores = time.monotonic(), cpu.figures()
        after = await asyncio.to_thread(playground_status, url)
        closed = [s.closed_code for s in students]  # before we close them ourselves
    finally:
        await close_students(students)
    hit, spared = [], []
    for student, epoch, k in zip(students, epochs, seen):
        if len(student.notices) == k:
            spared.append(student)
            continue
        rate = student.epochs_per_s(killed_at - 3.0, killed_at)
        notice_at, text = student.notices[k]
        match = NOTICE_EPOCH.search(text)
        resumed_from = int(match.group(1).replace(",", "")) if match else None
        lost = epoch - resumed_from if resumed_from is not None else None
        resumed = _resumed_at(student, notice_at)
        hit.append({
            "notice_after_s": round(notice_at - killed_at, 3), "epoch_at_kill": epoch,
            "resumed_from": resumed_from, "lost_epochs": lost,
            "epochs_per_s_before": round(rate, 1),
            "lost_s": round(lost / rate, 2) if lost is not None and rate else None,
            "training_again_after_s": round(resumed - killed_at, 3) if resumed else None,
            "epochs_per_s_after": round(student.epochs_per_s(resumed, end), 1)
            if resumed and end > resumed else None,
            "errors": [e for _, e in student.errors]})
    new = after["workers"][index]
    return {"students": n, "worker": {"old_pid": victim["pid"], "new_pid": new["pid"],
                                      "restarts": new["restarts"],
                                      "sessions_before": victim["sessions"],
                                      "sessions_after": new["sessions"]},
            "notified": len(hit), "affected": hit,
            "unaffected_epochs_per_s": {"before": rates(spared, killed_at - 3.0, killed_at),
                                        "during": rates(spared, killed_at, end)},
            "streams_closed_by_server": [c for c in closed if c is not None],
            "notice_texts": sorted({t for s in students for _, t in s.notices}),
            "health": probe.figures(), "cores_from_kill": cores}


async def run_all(url: str, n: int = 10) -> dict:
    results: dict = {}
    students = await start_students(url, n)
    try:
        await asyncio.sleep(2.0)  # past the first frames' burst
        for name, run in (("baseline", baseline), ("flood_messages", flood_messages),
                          ("flood_unpaced", functools.partial(flood_messages, rate=None)),
                          ("flood_unpaced_close_ignored", functools.partial(
                              flood_messages, rate=None, answer_close=False, seconds=12.0)),
                          ("huge_message", huge_message),
                          ("many_watchers", many_watchers), ("bogus_tokens", bogus_tokens),
                          ("foreign_origin", foreign_origin)):
            log(f"{name} ...")
            try:  # one failing attack must not hide the others' figures
                results[name] = await run(url, students)
            except Exception as error:
                results[name] = {"failed": repr(error)}
        results["students_closed_by_server"] = [s.closed_code for s in students
                                                if s.closed_code is not None]
    finally:
        await close_students(students)
    await asyncio.sleep(2.0)  # the closed pages' sessions pause; their CPU is free again
    log("kill_worker ...")
    results["kill_worker"] = await kill_worker(url, n)
    results["status_at_end"] = await asyncio.to_thread(playground_status, url)
    return results


def main() -> None:
    with browser.running_app() as server:
        results = asyncio.run(run_all(server.url))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
