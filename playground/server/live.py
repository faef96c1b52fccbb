"""The live stream: one WebSocket per page relays its session's frames and commands.

The page's live view connects to ``/live/<token>``; the token is the session's
unguessable id, so one visitor cannot watch (or stop) another's session. The
stream sends only the newest state whenever the session has a new frame: history
rows the page has not seen yet, the latest picture, and the data points when
they changed. A slow browser simply skips frames.

Commands from the page (``protocol.PAGE_COMMANDS``) go into the pool's bounded
outbox and never block the server's event loop. A stream from another site, a
message over 1 KB, more than ``PAGE_BURST`` messages at once or more than a few
watchers on one session are refused with a close code (``protocol``).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import ipaddress
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from playground.server import protocol as p
from playground.server.pool import get_pool
from playground.server.runner import Runner, StreamState, active_runners, find_runner

# Plotly's partial bundle with the cartesian traces only (scatter, bar, heatmap: all the
# live view draws), 1.5 MB against the full bundle's 4.8 MB; committed (Makefile:
# plotly-bundle) so the page works with no internet and `make run` needs no npm
PLOTLY_JS = Path(__file__).parents[1] / "ui" / "vendor" / "plotly-cartesian.min.js"
ASSET_PREFIX = "/playground-assets"
PLOTLY_PATH = f"{ASSET_PREFIX}/plotly.min.js"


def next_message(runner: Runner, sent: StreamState) -> str | None:
    """The JSON text to send now, or None when the page is up to date."""
    message = runner.stream_message(sent)
    return None if message is None else p.dumps(message)


class TokenBucket:
    """PAGE_RATE messages a second with bursts of PAGE_BURST."""

    def __init__(self, rate: float = p.PAGE_RATE, burst: int = p.PAGE_BURST) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


async def _commands(websocket: WebSocket, runner: Runner) -> int | None:
    """Apply the page's commands until it goes; returns the close code it sent.

    A flood ends the handler at once without a closing handshake: the server then
    drops the connection, and with it whatever the flooder has queued (a polite
    close would read, and decode, every queued frame until the client answered)."""
    bucket = TokenBucket()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return message.get("code")
        text = message.get("text") or ""
        if len(text) > p.MAX_PAGE_MESSAGE or message.get("bytes") or not bucket.take():
            return p.CLOSE_FLOOD
        command = p.parse_page_command(text)
        if command is not None:
            runner.command(command[0], *command[1])


OriginCheck = Callable[[str | None, str | None], bool]  # (Origin, Host) -> allowed


async def live_stream(websocket: WebSocket, origin_allowed: OriginCheck) -> None:
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host")):
        await websocket.close(code=p.CLOSE_ORIGIN)  # before accept: the handshake fails (403)
        return
    runner = find_runner(websocket.path_params["token"])
    if runner is not None and runner.flooded_until > time.monotonic():
        # refused at the handshake, after a pause: a flooder that reconnects at once
        # waits here (a sleeping task costs nothing) instead of costing a handshake a ms
        await asyncio.sleep(p.FLOOD_TARPIT_S)
        await websocket.close()
        return
    if runner is None or runner.closed:
        # the page asks for a fresh session on this code; a script guessing tokens waits
        await asyncio.sleep(p.FLOOD_TARPIT_S / 2)
    await websocket.accept()  # before closing, or the page sees 1006 instead of our code
    if runner is None or runner.closed:
        await websocket.close(code=p.CLOSE_UNKNOWN, reason="unknown or expired session")
        return
    if runner.attached >= p.MAX_WATCHERS:
        await websocket.close(code=p.CLOSE_WATCHERS, reason="too many watchers")
        return
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def listener() -> None:  # called from the pool's reader thread
        loop.call_soon_threadsafe(wake.set)

    runner.listeners.append(listener)
    runner.attached += 1
    runner.touch()
    sent = StreamState()
    # a closed tab must end this handler at once: the janitor counts open streams,
    # and the server cannot shut down while a handler waits
    commands = asyncio.create_task(_commands(websocket, runner))
    try:
        while not runner.closed and not commands.done():
            wake.clear()
            message = next_message(runner, sent)
            if message is not None:
                await websocket.send_text(message)
                continue
            woken = asyncio.create_task(wake.wait())
            await asyncio.wait({woken, commands}, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        # the close code the page sent (or the flood code), None if it sent none
        code = (commands.result() if commands.done() and not commands.cancelled()
                and commands.exception() is None else None)
        flooded = code == p.CLOSE_FLOOD
        commands.cancel()
        runner.listeners.remove(listener)
        runner.attached -= 1
        runner.touch()
        if flooded:
            runner.flooded_until = time.monotonic() + p.FLOOD_COOLDOWN_S
        if runner.attached == 0:
            if code == p.CLOSE_UNLOADED:
                runner.close()  # the page went away for good: free its session at once
            else:
                runner.pause()  # nobody watches: stop spending CPU until the page is back
    if not flooded:
        try:
            await websocket.close()
        except RuntimeError:
            pass  # already closed by the other side


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
    return JSONResponse({"workers": get_pool().status(), "sessions": len(active_runners())})


def routes(origin_allowed: OriginCheck) -> list:
    """The server's own routes. ``origin_allowed`` is the check Streamlit applies to its
    own stream (the entry point passes it in: this layer does not import the page's)."""

    async def stream(websocket: WebSocket) -> None:
        await live_stream(websocket, origin_allowed)

    return [WebSocketRoute("/live/{token}", stream),
            Route(PLOTLY_PATH, plotly_js),
            Route("/playground-status", status)]
