"""A simulated student: one playground session opened as a browser opens it, without
a browser, so that 30-100 sessions fit on a small load-test machine. Like a page, it
holds Streamlit's WebSocket (the session, which owns the trainer) and the live view's
WebSocket, reading every frame; unlike a page, it renders nothing.

    python -m benchmarks.student --url http://127.0.0.1:8501 --n 3 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import re
import time
from urllib.parse import urlsplit

import psutil
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect

from playground.server import protocol as p

LIVE_KEY = "live_view"  # the key the page mounts its live view component with
# what a live message's reader looks for (see Student._record)
SUMMARY_START = re.compile(rb'\{\s*"summary"\s*:\s*')
RARE_KEYS = re.compile(rb'"(?:notice|error)"')
DECODER = json.JSONDecoder()
# what the default page shows on opening at 1024x768 (and 1366x768): the network, not
# the histograms below it (protocol.VIEW; tests/test_browser.py checks a real page says so)
DEFAULT_VIEW = {"stats": False, "neurons": True}
PAUSE_STABLE_S = 0.3  # as benchmarks/page.py: no epoch change this long means stopped
GIVE_UP_S = 5.0


def encode_command(cmd: str, **args) -> str:
    """The text the page sends over the live stream for one command."""
    return json.dumps({"cmd": cmd, **args})


def endpoints(url: str) -> tuple[str, str, str]:
    """(ws://host:port, the app's path prefix, the Origin a browser on url sends)."""
    parts = urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}", parts.path.rstrip("/"), f"{parts.scheme}://{parts.netloc}"


def first_run_message(url: str, query: str) -> bytes:
    """The BackMsg the frontend sends on connect: run the script for this address."""
    back = BackMsg()
    state = back.rerun_script
    state.query_string = query
    # page_script_hash "" is the main page. No cached_message_hashes: the server only
    # sends a message by reference (ForwardMsg.ref_hash) when its hash is in that list
    # (ScriptRunContext.enqueue), so with an empty list every message comes whole.
    state.context_info.url = f"{url.rstrip('/')}/?{query}" if query else url
    state.context_info.timezone, state.context_info.locale = "UTC", "en-US"
    return back.SerializeToString()


def live_view_data(msg: ForwardMsg) -> dict | None:
    """The live view's data if msg mounts it: a bidi_component element whose id ends
    in its user key (ids are "$$ID-<hash>-<key>")."""
    element = msg.delta.new_element  # an empty default when msg is something else
    component = element.bidi_component
    if element.WhichOneof("type") != "bidi_component" or not component.id.endswith(f"-{LIVE_KEY}"):
        return None
    kind = component.WhichOneof("data")
    text = component.json if kind == "json" else component.mixed.json if kind == "mixed" else ""
    return json.loads(text) if text else None


async def open_session(url: str, query: str, timeout: float = 60.0
                       ) -> tuple[ClientConnection, dict]:
    """Connect to Streamlit's stream, run the page once, return (socket, live view data).
    The caller keeps the socket open (and read) as long as the page should be there."""
    base, prefix, origin = endpoints(url)
    # proxy=None: a load test talks to the server directly, whatever the environment
    # says; max_size=None: the live view's element is tens of kB, browsers have no cap
    ws = await connect(f"{base}{prefix}/_stcore/stream", subprotocols=["streamlit"],
                       origin=origin, proxy=None, max_size=None, open_timeout=timeout)
    try:
        await ws.send(first_run_message(url, query))
        data, errors = None, []
        async with asyncio.timeout(timeout):
            while True:
                msg = ForwardMsg.FromString(await ws.recv())
                kind = msg.WhichOneof("type")
                if kind == "ref_hash":  # cannot happen with no cached hashes sent
                    raise RuntimeError("server sent a cached-message reference")
                element = msg.delta.new_element  # empty unless msg adds an element
                if element.WhichOneof("type") in ("exception", "alert"):  # why no token
                    errors.append(element.exception.message or element.alert.body)
                # a run that ends early for a rerun is followed by the full one
                data = live_view_data(msg) or data
                if kind == "script_finished":
                    status = msg.script_finished
                    if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                        raise RuntimeError("the page does not compile")
                    if status == ForwardMsg.FINISHED_SUCCESSFULLY:
                        break
        if not data or not data.get("token"):
            raise RuntimeError(f"no live view token after the first run; page says {errors}")
        return ws, data
    except BaseException:
        await ws.close()
        raise


class Student:
    """One session: the page's Streamlit socket plus its live stream."""

    def __init__(self, url: str, query: str = "dataset=xor") -> None:
        self.url, self.query = url, query
        self.data: dict = {}  # the live view's data from the first run
        self.page = self.live = None  # the two sockets, once open
        self.tasks: list[asyncio.Task] = []
        # one entry per live message: arrival time, epochs trained so far (summed over
        # restarts, so a window's difference is the work done in it), summary "playing"
        self.arrivals: list[float] = []
        self.totals: list[int] = []
        self.flags: list[bool] = []
        self.total, self.epoch, self.generation, self.playing = 0, 0, None, None
        self.notices: list[tuple[float, str]] = []  # (arrival, text); errors likewise
        self.errors: list[tuple[float, str]] = []
        self.closed_code: int | None = None  # set when the server ends the live stream
        self.news = asyncio.Event()  # set on every live message: play() and pause() wait

    async def open(self, timeout: float = 60.0) -> None:
        self.page, self.data = await open_session(self.url, self.query, timeout)
        # read (and drop) everything else the server says on this socket, or its
        # send queue fills up and it drops the session as an overwhelmed client
        self.tasks.append(asyncio.create_task(self._drain(self.page)))
        await self.attach(timeout)

    async def attach(self, timeout: float = 60.0) -> None:
        """Open the live stream (again: a page that mounts its live view anew)."""
        base, _, origin = endpoints(self.url)
        path = f"{self.data.get('base_path', '')}/live/{self.data['token']}"
        self.closed_code = None
        self.live = await connect(base + path, origin=origin, proxy=None, max_size=None,
                                  open_timeout=timeout)
        self.tasks.append(asyncio.create_task(self._read_live()))
        await self.command(p.VIEW, **DEFAULT_VIEW)  # as the page says on opening its stream

    @staticmethod
    async def _drain(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):  # closed under us: nothing left to read
            async for _ in ws:
                pass

    def _record(self, raw: bytes) -> None:
        """Book one live message; parse as little of it as possible.

        When the summary comes first (it does today), raw_decode reads only it: ~8 us a
        20 kB frame, all in, against ~31 us for json.loads. The whole message is parsed
        only when it may hold a notice or an error (a false hit just costs that).
        """
        now = time.monotonic()
        raw = p.stream_json(raw)  # the pictures' bytes after it are not read
        start = SUMMARY_START.match(raw)  # ASCII only: its byte end is the str index
        if start and not RARE_KEYS.search(raw):
            summary = DECODER.raw_decode(raw.decode(), start.end())[0]
        else:
            message = json.loads(raw)
            summary = message.get("summary") or {}
            if message.get("notice"):
                self.notices.append((now, message["notice"]))
            if message.get("error"):
                self.errors.append((now, message["error"]))
        epoch, generation = summary.get("epoch", self.epoch), summary.get("generation")
        if generation == self.generation:
            # a step back within a generation is a restarted worker resuming from its
            # last snapshot: the epochs it lost are taken off again
            self.total += epoch - self.epoch
        else:  # a restart (or the first message): training began again at epoch 0
            self.total += epoch if self.arrivals else 0
        self.epoch, self.generation = epoch, generation
        self.playing = summary.get("playing", self.playing)
        self.arrivals.append(now)
        self.totals.append(self.total)
        self.flags.append(bool(self.playing))
        self.news.set()

    async def _read_live(self) -> None:
        while True:
            try:  # bytes: skips the client's UTF-8 check; json parses what it needs
                raw = await self.live.recv(decode=False)
            except Exception:  # the stream ended, whichever side closed it
                self.closed_code = self.live.close_code or 1006
                self.news.set()
                return
            try:
                self._record(raw)
            except (ValueError, AttributeError) as error:  # not the JSON we expect
                self.errors.append((time.monotonic(), f"unreadable message: {error!r}"))

    async def command(self, cmd: str, **args) -> None:
        await self.live.send(encode_command(cmd, **args))

    async def _wait_news(self, deadline: float) -> None:
        """Until the next live message, the deadline, or the stream's end."""
        self.news.clear()  # callers look at the records just before: nothing slips by
        if self.closed_code is None and deadline > time.monotonic():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.news.wait(), deadline - time.monotonic())

    def _first(self, since: int, playing: bool) -> int | None:
        """Index of the first message from index since whose summary says playing."""
        return next((i for i in range(since, len(self.flags)) if self.flags[i] == playing), None)

    async def play(self, give_up: float = GIVE_UP_S) -> float | None:
        """Send play; seconds until a message says playing (0 if one already did, None
        if none did in time)."""
        was_playing, seen, sent = self.playing, len(self.arrivals), time.monotonic()
        await self.command("play")
        while not was_playing and (index := self._first(seen, True)) is None:
            if self.closed_code is not None or time.monotonic() >= sent + give_up:
                return None
            await self._wait_news(sent + give_up)
        return 0.0 if was_playing else self.arrivals[index] - sent

    def _stopped_at(self, since: int) -> float | None:
        """When the pause took: the first message from index since that says not
        playing, or the last later one that still moved the epoch."""
        first = self._first(since, False)
        if first is None:
            return None
        totals = self.totals
        moved = [i for i in range(first + 1, len(totals)) if totals[i] != totals[i - 1]]
        return self.arrivals[moved[-1] if moved else first]

    async def pause(self, stable: float = PAUSE_STABLE_S, give_up: float = GIVE_UP_S
                    ) -> float | None:
        """Send pause; seconds until it took (see _stopped_at), counted once the epoch
        then held still for `stable` s. 0 if already paused; None if it never took."""
        was_playing, seen, sent = self.playing, len(self.arrivals), time.monotonic()
        await self.command("pause")
        if not was_playing:
            return 0.0  # nothing to stop: the server need not send anything
        while True:
            stopped = self._stopped_at(seen)
            until = sent + give_up if stopped is None else stopped + stable
            if time.monotonic() >= until or self.closed_code is not None:
                return None if stopped is None else stopped - sent
            await self._wait_news(until)

    async def close(self) -> None:
        for ws in filter(None, (self.live, self.page)):
            await ws.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # --- figures over a window [start, end] of time.monotonic() ---

    def _total_at(self, moment: float) -> int:
        index = bisect.bisect_right(self.arrivals, moment)
        return self.totals[index - 1] if index else 0

    def epochs_per_s(self, start: float, end: float) -> float:
        return (self._total_at(end) - self._total_at(start)) / (end - start)

    def frames_per_s(self, start: float, end: float) -> float:
        count = bisect.bisect_right(self.arrivals, end) - bisect.bisect_right(self.arrivals, start)
        return count / (end - start)

    def notices_in(self, start: float, end: float) -> int:
        return sum(start < moment <= end for moment, _ in self.notices)


async def run(url: str, n: int, seconds: float, query: str, warmup: float) -> None:
    students = [Student(url, query) for _ in range(n)]
    try:
        # one failed session (no free trainer, a timeout) must not end the others
        opened = await asyncio.gather(*(s.open() for s in students), return_exceptions=True)
        for error in {repr(e) for e in opened if isinstance(e, BaseException)}:
            print(f"could not open: {error}")
        live = [s for s, e in zip(students, opened) if not isinstance(e, BaseException)]
        print(f"opened {len(live)} of {n} sessions")
        if not live:
            return
        plays = await asyncio.gather(*(s.play() for s in live))
        await asyncio.sleep(warmup)  # past the first frames' burst
        me = psutil.Process()  # the load generator's own share of the box: user + system
        cpu_before, start = sum(me.cpu_times()[:2]), time.monotonic()
        await asyncio.sleep(seconds)
        cpu_after, end = sum(me.cpu_times()[:2]), time.monotonic()
        pauses = await asyncio.gather(*(s.pause() for s in live))
        print(f"{'student':>7} {'epochs/s':>9} {'frames/s':>9} {'play ms':>8} {'pause ms':>9} "
              f"{'notices':>8}")
        for number, (student, play, pause) in enumerate(zip(live, plays, pauses)):
            play_ms, pause_ms = (f"{t * 1000:.0f}" if t is not None else "never"
                                 for t in (play, pause))
            print(f"{number:>7} {student.epochs_per_s(start, end):9.1f} "
                  f"{student.frames_per_s(start, end):9.1f} {play_ms:>8} {pause_ms:>9} "
                  f"{student.notices_in(start, end):8d}")
            for _, text in student.notices + student.errors:
                print(f"        {text}")
            if student.closed_code is not None:
                print(f"        live stream closed by the server, code {student.closed_code}")
        print(f"this process: {(cpu_after - cpu_before) / (end - start):.3f} cores "
              f"over {end - start:.1f} s")
    finally:
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8501")
    parser.add_argument("--n", type=int, default=3, help="students (sessions)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--query", default="dataset=xor", help="the page's query string")
    parser.add_argument("--warmup", type=float, default=1.0, help="play this long first")
    args = parser.parse_args()
    asyncio.run(run(args.url, args.n, args.seconds, args.query, args.warmup))


if __name__ == "__main__":
    main()
