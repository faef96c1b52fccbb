"""The live stream: one WebSocket per page relays its session's frames and commands.

The page's live view connects to ``/live/<token>``; the token is the session's
unguessable id, so one visitor cannot watch (or stop) another's session. The
stream sends only the newest state whenever the session has a new frame: history
rows the page has not seen yet, the parts of the picture that changed, and the data
points when they changed. A slow browser simply skips frames.

Commands from the page (``protocol.PAGE_COMMANDS``) go into the pool's bounded
outbox and never block the server's event loop. A stream from another site, a
message over 1 KB, more than ``PAGE_BURST`` messages at once or more than a few
watchers on one session are refused with a close code (``protocol``).

A page that goes without a word (a closed tab, a laptop lid, a dropped network) is
the ordinary case: it costs one debug line at most, never a traceback in the log.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from playground.server import protocol as p
from playground.server import room_actions, room_stream, rooms
from playground.server.pool import get_pool
from playground.server.session import UNLOADED, Session, StreamState, active_sessions, find_session

# Plotly's partial bundle with the basic traces only (scatter, bar, pie; all the
# live view draws), 1.2 MB against the full bundle's 4.8 MB; committed (Makefile:
# plotly-bundle) so the page works with no internet and `make run` needs no npm
PLOTLY_JS = Path(__file__).parents[1] / "ui" / "vendor" / "plotly-basic.min.js"
ASSET_PREFIX = "/playground-assets"
log = logging.getLogger(__name__)
# what sending to a page that has gone raises (Starlette turns the server's OSError
# into WebSocketDisconnect; RuntimeError: the socket was closed already)
GONE = (WebSocketDisconnect, RuntimeError, ConnectionError, OSError)
PLOTLY_PATH = f"{ASSET_PREFIX}/plotly.min.js"


async def _send_close(websocket: WebSocket, code: int = 1000, reason: str | None = None
                      ) -> None:
    """Close the stream (or refuse it, before it was accepted); a page that has already
    gone is the ordinary case and worth one debug line."""
    try:
        await websocket.close(code=code, reason=reason)
    except GONE:
        log.debug("live stream: the page went before it was closed")


def next_message(session: Session, sent: StreamState) -> str | bytes | None:
    """The message to send now (``protocol.encode_stream``), or None when the page is up
    to date."""
    message = session.stream_message(sent)
    return None if message is None else p.encode_stream(message)


async def _commands(websocket: WebSocket, session: Session) -> int | None:
    """Apply the page's commands until it goes; returns the close code it sent.

    A flood ends the handler at once without a closing handshake: the server then
    drops the connection, and with it whatever the flooder has queued (a polite
    close would read, and decode, every queued frame until the client answered)."""
    bucket = p.TokenBucket()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return message.get("code")
        text = message.get("text") or ""
        if len(text) > p.MAX_PAGE_MESSAGE or message.get("bytes") or not bucket.take():
            return p.CLOSE_FLOOD
        room_command = p.parse_room_command(text)  # room hook: rooms checks the key
        if room_command is not None:
            room_actions.teacher_command(*room_command)
            continue
        command = p.parse_page_command(text)
        if command is not None:
            session.command(command[0], *command[1])


OriginCheck = Callable[[str | None, str | None], bool]  # (Origin, Host) -> allowed


async def live_stream(websocket: WebSocket, origin_allowed: OriginCheck) -> None:
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host")):
        await _send_close(websocket, p.CLOSE_ORIGIN)  # before accept: the handshake fails (403)
        return
    room = rooms.find_teacher(websocket.path_params["token"])  # room hook: a teacher view
    if room is not None:
        await room_stream.teacher_stream(websocket, room)
        return
    session = find_session(websocket.path_params["token"])
    if session is not None and session.flooded_until > time.monotonic():
        # refused at the handshake, after a pause: a flooder that reconnects at once
        # waits here (a sleeping task costs nothing) instead of costing a handshake a ms
        await asyncio.sleep(p.FLOOD_TARPIT_S)
        await _send_close(websocket)
        return
    if session is None or session.closed:
        # the page asks for a fresh session on this code; a script guessing tokens waits
        await asyncio.sleep(p.FLOOD_TARPIT_S / 2)
    try:
        await websocket.accept()  # before closing, or the page sees 1006 instead of our code
    except GONE:
        log.debug("live stream: the page went before its stream opened")
        return
    if session is None or session.closed:
        await _send_close(websocket, p.CLOSE_UNKNOWN, "unknown or expired session")
        return
    if session.attached >= p.MAX_WATCHERS:
        await _send_close(websocket, p.CLOSE_WATCHERS, "too many watchers")
        return
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    waker = _waker(loop)

    def listener() -> None:  # called from the pool's reader thread
        waker.set(wake)

    session.listeners.append(listener)
    session.attached += 1
    session.watched = True
    session.touch()
    sent = StreamState()
    # a closed tab must end this handler at once: the janitor counts open streams,
    # and the server cannot shut down while a handler waits
    commands = asyncio.create_task(_commands(websocket, session))
    try:
        while not session.closed and not commands.done():
            wake.clear()
            message = next_message(session, sent)
            if message is not None:
                await p.send_stream(websocket, message)
                continue
            woken = asyncio.create_task(wake.wait())
            await asyncio.wait({woken, commands}, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
    except GONE:
        log.debug("live stream: the page went")
    finally:
        # the close code the page sent (or the flood code), None if it sent none
        code = (commands.result() if commands.done() and not commands.cancelled()
                and commands.exception() is None else None)
        flooded = code == p.CLOSE_FLOOD
        commands.cancel()
        session.listeners.remove(listener)
        session.attached -= 1
        session.touch()
        if flooded:
            session.flooded_until = time.monotonic() + p.FLOOD_COOLDOWN_S
        if session.attached == 0:
            if code == p.CLOSE_UNLOADED:
                session.close(UNLOADED)  # the page went away for good: free its session now
            else:
                # nobody watches: stop spending CPU until the page is back, unless the
                # page mounts its view anew (a rerun that changed the layout) within moments
                loop.call_later(p.DETACH_GRACE_S, _pause_if_unwatched, session,
                                session.last_contact)
    if not flooded:
        await _send_close(websocket)


class _Waker:
    """Sets the loop's events from other threads with one wake-up of the loop for a burst
    (a worker's message brings the frames of up to a hundred sessions at once; waking
    the loop for each cost the server a tenth of its time)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = threading.Lock()
        self.pending: set[asyncio.Event] = set()

    def set(self, event: asyncio.Event) -> None:
        with self.lock:
            first = not self.pending
            self.pending.add(event)
        if first:
            self.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self.lock:
            events, self.pending = self.pending, set()
        for event in events:
            event.set()


_wakers: dict[asyncio.AbstractEventLoop, _Waker] = {}


def _waker(loop: asyncio.AbstractEventLoop) -> _Waker:
    """The loop's waker (the server runs one loop; tests may run others)."""
    if loop not in _wakers:
        _wakers.clear()  # a loop that ended (a test's) has no stream left
        _wakers[loop] = _Waker(loop)
    return _wakers[loop]


def _pause_if_unwatched(session: Session, left_at: float) -> None:
    """Pause a session its last stream left, unless a page has been in touch since (a
    stream opened, or a command such as a lesson's play came meanwhile)."""
    if session.attached == 0 and session.last_contact == left_at:
        session.pause_unwatched()


@lru_cache(maxsize=1)
def plotly_bundle() -> tuple[bytes, bytes, str]:
    """The bundle, gzipped once (0.5 MB on the wire), and its version for the URL."""
    raw = PLOTLY_JS.read_bytes()
    return raw, gzip.compress(raw, compresslevel=9, mtime=0), hashlib.sha256(raw).hexdigest()[:12]


def plotly_src() -> str:
    """The bundle's URL (after the base path): a new bundle gets a new one, so a browser
    may keep each for good."""
    return f"{PLOTLY_PATH}?v={plotly_bundle()[2]}"


async def plotly_js(request: Request) -> Response:
    raw, packed, _ = plotly_bundle()
    headers = {"Cache-Control": "public, max-age=31536000, immutable",
               "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type="text/javascript", headers=headers)
    return Response(raw, media_type="text/javascript", headers=headers)


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


async def status(request: Request) -> Response:
    """Workers and sessions, for operators and benchmarks on this machine only."""
    if not _loopback(request.client.host if request.client else ""):
        return Response(status_code=404)
    return JSONResponse({"workers": get_pool().status(), "sessions": len(active_sessions())})


def routes(origin_allowed: OriginCheck) -> list:
    """The server's own routes. ``origin_allowed`` is the check Streamlit applies to its
    own stream (the entry point passes it in: this layer does not import the page's)."""

    async def stream(websocket: WebSocket) -> None:
        await live_stream(websocket, origin_allowed)

    return [WebSocketRoute("/live/{token}", stream),
            Route(PLOTLY_PATH, plotly_js),
            Route("/playground-status", status)]
