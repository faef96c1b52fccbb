"""The route cookie the app sets behind ingress-nginx (playground/server/route_cookie.py):
the rule of deploy/nginx.conf's maps, through the middleware as ASGI calls it."""

from __future__ import annotations

import asyncio

from playground.server.route_cookie import RouteCookie, route_for


async def page(scope, receive, send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"page"})


def request(query: str = "", cookie: str | None = None, kind: str = "http",
            headers: tuple = ()) -> list[dict]:
    """The messages the app sends for one request through the middleware."""
    sent: list[dict] = []
    cookies = [] if cookie is None else [(b"cookie", cookie.encode())]
    scope = {"type": kind, "path": "/", "query_string": query.encode(), "scheme": "http",
             "headers": [*cookies, *headers]}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(RouteCookie(page, name="pgroute")(scope, receive, send))
    return sent


def set_cookie(messages: list[dict]) -> str | None:
    start = next(m for m in messages if m["type"].endswith("start") or m["type"].endswith("accept"))
    found = [v.decode() for k, v in start.get("headers", []) if k == b"set-cookie"]
    assert len(found) <= 1
    return found[0] if found else None


def test_a_room_page_sets_the_rooms_route_whatever_the_cookie_was():
    header = set_cookie(request("room=ABCDE&name=Ada", cookie="pgroute=route7"))
    assert header.startswith("pgroute=room.ABCDE; Path=/;")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    # the room's pages after that (same route), and the page's own requests: nothing to set
    assert set_cookie(request("room=ABCDE&seat=x", cookie="pgroute=room.ABCDE")) is None
    assert set_cookie(request("", cookie="a=1; pgroute=room.ABCDE")) is None


def test_a_first_visit_gets_a_random_route():
    first, second = set_cookie(request("")), set_cookie(request("dataset=xor"))
    assert first.startswith("pgroute=") and second.startswith("pgroute=")
    assert first.split(";")[0] != second.split(";")[0]
    assert set_cookie(request("dataset=xor", cookie="pgroute=route7")) is None


def test_only_a_code_spelt_as_the_app_spells_it_routes():
    # "new", lower case, a look-alike, a cookie attribute smuggled in: the cookie decides
    for query in ("room=new", "room=abcde", "room=ABC0E", "room=AB%3BCD", "room=ABCDE;Path=/x",
                  "room=ABCDE%3BPath%3D%2Fx"):
        assert route_for(query, "route7") is None, query
    assert route_for("room=ABCDE&room=FGHJK", None) == "room.ABCDE"  # nginx takes the first


def test_https_behind_the_ingress_marks_the_cookie_secure():
    header = set_cookie(request("room=ABCDE", headers=((b"x-forwarded-proto", b"https"),)))
    assert header.endswith("; Secure")


def test_websockets_pass_untouched():
    assert set_cookie(request("room=ABCDE", kind="websocket")) is None
