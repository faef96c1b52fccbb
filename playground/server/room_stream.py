"""The teacher view's live stream: the room's tiles, its counts, the challenge's board and
the question's tally, over the same ``/live/<token>`` route as every session (the
token is the teacher key).

Each tile is sent when it changed, at most every ``TILE_INTERVAL_S``; its picture is
the student's session's own latest output image (the same PNG their page gets), sent
only when a newer one exists. A change to the room itself (a join, an answer, a
command) is sent at once. Commands on this stream are teacher commands and, like
those from any other stream, carry the key that ``room_actions.teacher_command`` checks.
"""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocket, WebSocketDisconnect

from playground.server import protocol as p
from playground.server import room_actions
from playground.server.render import thumbnail
from playground.server.rooms import Room


class TeacherSent:
    """What one teacher stream has already sent: per tile its numbers and picture."""

    def __init__(self) -> None:
        self.state: dict | None = None
        self.tiles: dict[str, tuple[tuple, str | None]] = {}


def teacher_message(room: Room, sent: TeacherSent) -> dict | None:
    """The changes since the last message (``{"room", "tiles", "gone"}``), or None."""
    state = room.teacher_state()
    tiles, seen = [], set()
    for tile, picture in room.tiles():
        seen.add(tile["id"])
        numbers = tuple(tile.items())
        before = sent.tiles.get(tile["id"])
        new_picture = picture is not None and (before is None or before[1] is not picture)
        if before is not None and before[0] == numbers and not new_picture:
            continue
        if new_picture:
            tile["picture"] = thumbnail(picture)
        sent.tiles[tile["id"]] = (numbers, picture if picture is not None else
                                  (before[1] if before else None))
        tiles.append(tile)
    gone = [tile_id for tile_id in sent.tiles if tile_id not in seen]
    for tile_id in gone:
        del sent.tiles[tile_id]
    if not tiles and not gone and state == sent.state:
        return None
    sent.state = state
    return {"room": state, "tiles": tiles, "gone": gone}


async def _teacher_commands(websocket: WebSocket) -> None:

    bucket = p.TokenBucket()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text") or ""
        if len(text) > p.MAX_PAGE_MESSAGE or message.get("bytes") or not bucket.take():
            return
        command = p.parse_room_command(text)
        if command is not None:
            room_actions.teacher_command(*command)


async def teacher_stream(websocket: WebSocket, room: Room) -> None:
    await websocket.accept()
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def listener() -> None:  # called from any thread that changed the room
        loop.call_soon_threadsafe(wake.set)

    room.listeners.append(listener)
    sent = TeacherSent()
    commands = asyncio.create_task(_teacher_commands(websocket))
    try:
        while not commands.done():
            wake.clear()
            room.sweep()
            message = teacher_message(room, sent)
            if message is not None:
                await p.send_stream(websocket, p.encode_stream(message))
            if room.closed:
                await websocket.close(code=p.CLOSE_ROOM_CLOSED, reason="room closed")
                return
            woken = asyncio.create_task(wake.wait())
            await asyncio.wait({woken, commands}, timeout=p.TILE_INTERVAL_S,
                               return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            await asyncio.sleep(0.05)  # a burst of answers or joins is one message
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        commands.cancel()
        room.listeners.remove(listener)
    try:
        await websocket.close()
    except (RuntimeError, WebSocketDisconnect):
        pass  # already closed by the other side
