"""The live stream: one WebSocket per page relays its runner's frames.

The page's live component connects to ``/live/<token>``; the token is the
runner's unguessable id, so one visitor cannot watch (or stop) another's
session. The stream sends only the newest state whenever the runner has a new
frame: history rows the page has not seen yet, the latest picture, and the
data points when they changed. A slow browser simply skips frames.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import plotly
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from playground.runner import Runner, find_runner

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
ASSET_PREFIX = "/playground-assets"


class StreamState:
    """What one connection has already sent."""

    def __init__(self) -> None:
        self.version = -1
        self.generation = None
        self.rows = 0
        self.points_version = 0


def next_message(runner: Runner, sent: StreamState) -> str | None:
    """The JSON text to send now, or None when the page is up to date."""
    with runner.lock:
        if runner.version == sent.version and not runner.crashed:
            return None
        message: dict = {"summary": runner.summary, "crashed": runner.crashed}
        if runner.generation != sent.generation:
            sent.generation, sent.rows = runner.generation, 0
            message["restart"] = True
        message["history"] = {key: values[sent.rows:] for key, values in runner.history.items()}
        sent.rows = len(runner.history["epoch"])
        if runner.points_version != sent.points_version:
            sent.points_version = runner.points_version
            message["points"] = runner.points
        message["picture"] = runner.picture
        sent.version = runner.version
    return json.dumps(message, separators=(",", ":"))


# What the page may say over its stream: the play button's click, sent here too so
# that it acts within milliseconds instead of after a Streamlit rerun.
PAGE_COMMANDS = {"play": Runner.play, "pause": Runner.pause}


async def _until_disconnect(websocket: WebSocket, runner: Runner) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        command = PAGE_COMMANDS.get(message.get("text") or "")
        if command is not None:
            command(runner)


async def live_stream(websocket: WebSocket) -> None:
    runner = find_runner(websocket.path_params["token"])
    await websocket.accept()  # before closing, or the page sees 1006 instead of our code
    if runner is None:
        await websocket.close(code=4404, reason="unknown or expired session")
        return
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def listener() -> None:  # called from the runner's reader thread
        loop.call_soon_threadsafe(wake.set)

    runner.listeners.append(listener)
    runner.attached += 1
    sent = StreamState()
    # a closed tab must end this handler at once: the janitor counts open streams,
    # and the server cannot shut down while a handler waits
    disconnected = asyncio.create_task(_until_disconnect(websocket, runner))
    try:
        while not runner.closed and not disconnected.done():
            wake.clear()
            message = next_message(runner, sent)
            if message is not None:
                await websocket.send_text(message)
                if runner.crashed:
                    break
                continue
            woken = asyncio.create_task(wake.wait())
            await asyncio.wait({woken, disconnected}, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        disconnected.cancel()
        runner.listeners.remove(listener)
        runner.attached -= 1
        runner.touch()
        if runner.attached == 0:
            runner.pause()  # nobody watches: stop spending CPU until the page is back


async def plotly_js(request: Request) -> Response:
    # the page must work with no internet: Plotly comes from the installed package
    return FileResponse(PLOTLY_JS, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


ROUTES = [
    WebSocketRoute("/live/{token}", live_stream),
    Route(f"{ASSET_PREFIX}/plotly.min.js", plotly_js),
]
