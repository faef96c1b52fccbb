"""The route cookie, set by the app itself (for a load balancer that cannot set one while
it hashes on it, such as ingress-nginx with ``upstream-hash-by``; deploy/k8s).

The balancer hashes each request on its route: a class room's code when the address
holds one (``?room=CODE``), else the ``pgroute`` cookie. Every response that should
move the visitor's route carries the cookie: the room's route on a room's page, so the
page's own streams (which carry no room) reach the room's replica; a random route for a
first visit, so its later requests stick to one replica. The rule is deploy/nginx.conf's
(``$playground_route``), which sets the same cookie itself there.
"""

from __future__ import annotations

import re
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl

from playground.server.rooms import CODE_ALPHABET, CODE_LENGTH

ROOM_ROUTE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
MAX_AGE_S = 12 * 3600  # a school day


def route_for(query: str, cookie: str | None) -> str | None:
    """The route this request's response should set, or None (the cookie is right)."""
    room = next((value for key, value in parse_qsl(query, keep_blank_values=True)
                 if key == "room"), "")  # nginx's $arg_room: the first one
    if ROOM_ROUTE.match(room):
        route = f"room.{room}"
        return None if cookie == route else route
    return None if cookie else secrets.token_hex(16)


class RouteCookie:
    """ASGI middleware: adds ``Set-Cookie: <name>=<route>`` to HTTP responses that move
    the visitor's route (WebSockets pass untouched: their route is already the cookie's)."""

    def __init__(self, app, name: str = "pgroute") -> None:
        self.app, self.name = app, name

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        jar = SimpleCookie()
        try:
            jar.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # noqa: BLE001  (a malformed Cookie header: treated as none)
            jar = SimpleCookie()
        current = jar[self.name].value if self.name in jar else None
        route = route_for(scope.get("query_string", b"").decode("latin-1"), current)
        if route is None:
            await self.app(scope, receive, send)
            return
        secure = (headers.get(b"x-forwarded-proto", b"") == b"https"
                  or scope.get("scheme") == "https")
        cookie = (f"{self.name}={route}; Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Lax"
                  + ("; Secure" if secure else "")).encode()

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
