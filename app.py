"""Entry point: `streamlit run app.py` serves the page plus the live stream (ASGI mode)."""

import gc
import os
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

# the live stream checks Origin exactly as Streamlit's own stream does
from streamlit.web.server.starlette.starlette_websocket import _is_origin_allowed

from playground.server.live import ASSET_PREFIX, routes
from playground.server.pool import close_pool, get_pool
from playground.server.route_cookie import RouteCookie
from playground.server.session import close_all


@asynccontextmanager
async def lifespan(_app):
    get_pool()  # the workers import torch now, not on the first visit
    import playground.ui.page  # noqa: F401  (the page's imports too: Plotly's figures and all)
    from playground.ui.components import warm_up

    warm_up()  # and the default page's figures and thumbnails
    # Everything imported so far lives as long as the server: keep Python's full
    # collections from walking it (each walk held the GIL for ~200 ms with torch).
    gc.freeze()
    yield
    close_all()
    close_pool()  # no worker outlives the server


PAGE_JS = Path(__file__).parent / "playground" / "ui" / "js"


async def page_js(request: Request) -> Response:
    """The live view's ES modules (they import each other by name). Revalidated on each
    load: a module may change between releases while its URL stays the same."""
    path = PAGE_JS / request.path_params["name"]
    if path.suffix != ".js" or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


# Behind a balancer that hashes on the route cookie but cannot set it (ingress-nginx,
# deploy/k8s), the app sets it: PLAYGROUND_ROUTE_COOKIE names it. Unset (one replica, or
# deploy/nginx.conf, which sets it itself), no cookie.
ROUTE_COOKIE = os.environ.get("PLAYGROUND_ROUTE_COOKIE", "")
app = st.App("playground/ui/page.py", lifespan=lifespan, routes=[
    *routes(_is_origin_allowed), Route(f"{ASSET_PREFIX}/js/{{name}}", page_js)],
    middleware=[Middleware(RouteCookie, name=ROUTE_COOKIE)] if ROUTE_COOKIE else None)
