"""Every message between the workers, the server, the live stream and the page, defined once.

Three legs:

- server -> worker, JSON text: ``[session id, [[command, args], ...]]``, commands from
  ``COMMANDS``;
- worker -> server, a pickle (``pack_frames``): ``{"frames": [[session id, Frame], ...]}``,
  and every ``worker.BEAT_S`` a heartbeat ``{"frames": [], "beat": seconds since the
  worker's loop last went round}``. The worker is the server's own child process, and a
  pickle costs it a tenth of JSON's time (a class of 100 sends a thousand frames a second);
  numbers stay as they are (NaN too) until the page's leg;
- server -> page, the live stream (``encode_stream``): ``StreamMessage`` as JSON text, or,
  when it holds pictures, one binary message: a 4-byte big-endian length, that many bytes
  of JSON, then the pictures' bytes, each referred to in the JSON as
  ``{"$b": [offset, length]}`` (a picture's raw palette indices: no base64 to make, send
  and decode, and a quarter fewer bytes); page -> server: ``{"cmd": name, ...}`` with a
  name from ``PAGE_COMMANDS``, at most ``MAX_PAGE_MESSAGE`` bytes.

The live view's JavaScript gets ``for_js()`` in its component data, so the command
names, the history keys and the close codes it uses come from here too.
"""

from __future__ import annotations

import json
import math
import pickle
import time
from collections.abc import Callable
from typing import Any, TypedDict

from playground.engine.train.history import HISTORY_KEYS

# -- commands ------------------------------------------------------------------------------
OPEN, CLOSE = "open", "close"
PLAY, PAUSE, STEP, RESTART, CONFIG = "play", "pause", "step", "restart", "config"
SET_PARAM = "set_param"  # one weight or bias, typed in by the visitor while paused
LOAD = "load"  # imported weights (packed like Trainer.state's): training starts again from them
# what the page shows of the parts a frame may leave out: {"cmd": "view", "stats": bool,
# "neurons": bool} (the histograms and confusion matrix; the neurons' thumbnails); a page
# scrolled away from them (or a hidden tab) costs the server neither
VIEW = "view"
COMMANDS = (OPEN, CLOSE, PLAY, PAUSE, STEP, RESTART, CONFIG, SET_PARAM, LOAD, VIEW)
PAGE_COMMANDS = (PLAY, PAUSE, STEP, RESTART, SET_PARAM, VIEW)  # what a page may say
# -- room hook: a teacher's command, {"cmd": ROOM_COMMAND, "action": ..., "key": ...}; any
# stream may send one, and room_actions.teacher_command checks its key (never the stream it came on)
ROOM_COMMAND = "room"
ROOM_ACTIONS = ("push", "pause_all", "play_all", "lock", "challenge", "question", "reveal",
                "remove", "close")
MAX_PARAM = 10.0  # a typed-in weight or bias is clipped to ±this
TOGGLES = (PLAY, PAUSE)  # only the last one pending counts (a flood of clicks is one click)
REPLACED = (CONFIG, LOAD)  # a newer one makes the pending one moot
MAX_STEP = 100  # epochs one step command may ask for

MAX_PAGE_MESSAGE = 1024  # bytes; a command is a few dozen
PAGE_RATE = 20.0  # page commands per second, sustained ...
PAGE_BURST = 40  # ... with this many at once (a visitor double-clicking is fine)
MAX_WATCHERS = 3  # live streams on one session (a second tab, a projector)
FLOOD_COOLDOWN_S = 10.0  # after a flood, new streams on that session are refused this long
FLOOD_TARPIT_S = 1.0  # ... each after this pause
DETACH_GRACE_S = 3.0  # a session with no stream left pauses after this (a remount is quicker)

# close codes of the live stream (4000-4999 are the application's own)
CLOSE_UNKNOWN = 4404  # no such session, or it ended: the page starts a fresh one
CLOSE_ORIGIN = 4403  # another site's page
CLOSE_WATCHERS = 4409  # too many streams on one session
CLOSE_FLOOD = 4429  # too many or too large messages
CLOSE_UNLOADED = 4001  # the page says it is going away: free its session at once
CLOSE_ROOM_CLOSED = 4410  # the teacher's room was closed
TILE_INTERVAL_S = 0.5  # the teacher view gets each changed tile at most this often


class HistoryRows(TypedDict):
    """History rows as they travel: one list per column (``train.history.History`` keeps them)."""

    epoch: list[int]
    train_loss: list[float]
    test_loss: list[float]
    train_metric: list[float]
    test_metric: list[float]
    weight_norms: list[list[float]]
    grad_norms: list[list[float]]
    val_loss: list[float | None]  # None: no validation share
    near_zero: list[float]  # share of the weights within 0.01 of zero


class Picture(TypedDict, total=False):
    """What the page draws of one moment; parts left out keep their last value."""

    sizes: list[int]  # neurons per layer, inputs first
    weights: list[list[list[float]]]  # per layer [out][in]
    biases: list[list[float]]
    boundary: dict | None  # the output over the plane: a render.GridPicture
    neurons: list[list[dict]]  # per hidden layer, a GridPicture per neuron (digits: 8x8 weights)
    predictions: list[int]  # image inputs: the predicted class of the first test images
    hist_weights: list[dict]  # per layer {"counts", "lo", "hi"}
    hist_grads: list[dict]
    confusion: list[list[int]] | None


class Summary(TypedDict):
    epoch: int
    generation: int  # bumps when training restarts at epoch 0 (the page clears its curves)
    playing: bool
    stopped: str | None  # why training stopped by itself
    metric: str  # "accuracy" or "r2"
    config: dict[str, str]  # the Config's URL params
    last: dict | None  # the newest epoch's metrics (a kept history row or not)


class Frame(Summary, total=False):
    history: HistoryRows  # rows since the previous frame
    points: dict | None  # the data, when it changed
    picture: Picture
    state: dict  # an exact snapshot (Trainer.state), about once a second


class StreamMessage(TypedDict, total=False):
    summary: Summary
    restart: bool  # the history below replaces what the page has
    history: HistoryRows
    points: dict | None
    picture: Picture
    notice: str | None  # one line for the visitor (e.g. the trainer was restarted)
    error: str | None  # the session cannot go on; the page offers a fresh start
    room: int  # room hook: the student's room changed (its version); the page reruns


class TokenBucket:
    """PAGE_RATE messages a second with bursts of PAGE_BURST."""

    def __init__(self, rate: float = PAGE_RATE, burst: int = PAGE_BURST) -> None:
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


def empty_history() -> dict[str, list]:
    return {key: [] for key in HISTORY_KEYS}


def dumps(message: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Strict JSON: a non-finite number becomes null (browsers' JSON.parse refuses
    NaN and Infinity, and one such frame would freeze the view)."""
    try:
        return json.dumps(message, separators=(",", ":"), allow_nan=False, default=default)
    except ValueError:
        return json.dumps(_finite(message), separators=(",", ":"), allow_nan=False,
                          default=default)


BLOB = "$b"  # {"$b": [offset, length]}: bytes after a binary message's JSON


def encode_stream(message: dict) -> str | bytes:
    """A message for a page's stream: JSON text, or a binary message if it holds bytes
    (see the module's docstring)."""
    blobs: list[bytes] = []
    size = 0

    def blob(value: Any) -> dict:
        nonlocal size
        if not isinstance(value, bytes):
            raise TypeError(f"{type(value).__name__} cannot travel to a page")
        blobs.append(value)
        size += len(value)
        return {BLOB: [size - len(value), len(value)]}

    text = dumps(message, default=blob)
    if not blobs:
        return text
    head = text.encode()
    return b"".join([len(head).to_bytes(4, "big"), head, *blobs])


async def send_stream(websocket: Any, data: str | bytes) -> None:
    """Send an ``encode_stream`` result on a Starlette WebSocket as the frame it needs."""
    if isinstance(data, bytes):
        await websocket.send_bytes(data)
    else:
        await websocket.send_text(data)


def stream_json(data: str | bytes) -> str | bytes:
    """A stream message's JSON part (a binary message's header; a text message whole).
    A binary message starts with a zero byte (its length's), which JSON text never does."""
    if isinstance(data, bytes) and data[:1] == b"\0":
        return data[4:4 + int.from_bytes(data[:4], "big")]
    return data


def decode_stream(data: str | bytes) -> dict:
    """A stream message as the page reads it, its pictures' bytes in place (for tests
    and the simulated students)."""
    head = stream_json(data)
    if head is data:
        return json.loads(data)
    blobs = data[4 + len(head):]

    def bytes_of(obj: dict) -> Any:
        if len(obj) == 1 and BLOB in obj:
            offset, length = obj[BLOB]
            return blobs[offset:offset + length]
        return obj

    return json.loads(head, object_hook=bytes_of)


def pack_frames(message: dict) -> bytes:
    """The worker's message to the server (see the module's docstring)."""
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def unpack_frames(data: bytes) -> dict:
    """A message from the server's own worker process (never from outside)."""
    return pickle.loads(data)


def finite_or_none(value: float | None) -> float | None:
    """A number the server ranks or compares: NaN and infinities count as none."""
    return value if value is None or math.isfinite(value) else None


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _page_message(text: str | None) -> dict | None:
    """A message from a page as a JSON object, or None if it is too long or not one."""
    if not text or len(text) > MAX_PAGE_MESSAGE:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def parse_page_command(text: str | None) -> tuple[str, list] | None:
    """A page's command as (name, args), or None if it is not one."""
    message = _page_message(text)
    if message is None or message.get("cmd") not in PAGE_COMMANDS:
        return None
    name = message["cmd"]
    if name == SET_PARAM:
        return _set_param(message)
    if name == VIEW:
        shown = [message.get("stats", True), message.get("neurons", True)]
        return (name, shown) if all(isinstance(v, bool) for v in shown) else None
    if name == STEP:
        epochs = message.get("epochs", 1)
        if not isinstance(epochs, int) or isinstance(epochs, bool):
            return None
        return name, [max(1, min(epochs, MAX_STEP))]
    return name, []


def parse_room_command(text: str | None) -> tuple[str, str, dict] | None:
    """A teacher's command as (key, action, its other fields), or None if it is not one.
    Nothing here is trusted: room_actions.teacher_command checks the key and every field."""
    message = _page_message(text)
    if message is None or message.get("cmd") != ROOM_COMMAND:
        return None
    key, action = message.pop("key", None), message.pop("action", None)
    if not isinstance(key, str) or action not in ROOM_ACTIONS:
        return None
    message.pop("cmd")
    return key, action, message


def _set_param(message: dict) -> tuple[str, list] | None:
    """[kind, layer, to, from, value]: weight `from` -> `to` of a layer, or bias of `to`."""
    kind, value = message.get("kind"), message.get("value")
    indices = [message.get(k, 0) for k in ("layer", "to", "from")]
    if kind not in ("weight", "bias") or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 1024 for i in indices):
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return SET_PARAM, [kind, *indices, max(-MAX_PARAM, min(MAX_PARAM, float(value)))]


def for_js() -> dict:
    """The constants the live view's JavaScript needs, from this one definition."""
    return {"page_commands": list(PAGE_COMMANDS), "history_keys": list(HISTORY_KEYS),
            "room_command": ROOM_COMMAND, "room_actions": list(ROOM_ACTIONS),
            "close": {"unknown": CLOSE_UNKNOWN, "origin": CLOSE_ORIGIN,
                      "watchers": CLOSE_WATCHERS, "flood": CLOSE_FLOOD,
                      "unloaded": CLOSE_UNLOADED, "room_closed": CLOSE_ROOM_CLOSED}}
