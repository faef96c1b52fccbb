"""The server's connections as ``python -m playground serve`` (``ui/serve.py``) sets them.

Streamlit serves ``st.App`` through uvicorn and fixes the settings it passes to it; none
of them bounds how long a request may take to arrive, and its listening socket leaves
Nagle's algorithm on. So the server adds two of uvicorn's own settings to Streamlit's:

- ``timeout_keep_alive``: a kept-alive connection with no new request closes after
  ``KEEP_ALIVE_S``;
- ``http``, the protocol class that serves each connection: uvicorn's own h11 protocol
  (h11 parses every byte, as before), plus one timer. uvicorn has no header timeout: a
  client that sends a header line every half second, or nothing at all, holds its
  connection (and a file descriptor) for ever, and a few hundred such clients starve a
  bare server. Here a connection whose request headers have not all arrived within
  ``header_timeout_s`` (``PLAYGROUND_HEADER_TIMEOUT_S``) of its opening, or of its first
  byte after a response, is closed. A WebSocket, once upgraded, is no longer timed.
  And each connection sends at once (``TCP_NODELAY``): asyncio sets it only on sockets
  whose protocol number says TCP, which Streamlit's listening socket (``socket.socket
  (family)``: protocol 0) and so every accepted one lack. With Nagle's algorithm on, a
  frame that followed another within a round trip waited for the browser's delayed
  acknowledgement: 40 ms, a third of a pause's latency, and a lost frame or two.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

from playground.engine.config.limits import LIMITS

KEEP_ALIVE_S = 5  # uvicorn's default, set here so it is a decision, not an accident
log = logging.getLogger(__name__)


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol; a request's headers must arrive within the timeout."""

    header_timeout_s = LIMITS.header_timeout_s
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self._between_requests():
            self._arm()  # the first byte of the next request on a kept-alive connection
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:
            self._disarm()  # a request's headers are all in: the app has it now

    def handle_websocket_upgrade(self, event) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._between_requests() and not self.transport.is_closing():
            log.debug("closed a connection whose request headers took over %s s",
                      self.header_timeout_s)
            self.transport.close()


def uvicorn_settings() -> dict:
    """What this server adds to the uvicorn settings Streamlit passes."""
    return {"http": HeaderTimeoutProtocol, "timeout_keep_alive": KEEP_ALIVE_S}

