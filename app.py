"""Entry point: `streamlit run app.py` serves the page plus the live stream (ASGI mode)."""

import gc
from contextlib import asynccontextmanager

import streamlit as st

# the live stream checks Origin exactly as Streamlit's own stream does
from streamlit.web.server.starlette.starlette_websocket import _is_origin_allowed

from playground.server.live import routes
from playground.server.pool import close_pool, get_pool
from playground.server.runner import close_all


@asynccontextmanager
async def lifespan(_app):
    get_pool()  # the workers import torch now, not on the first visit
    # Everything imported so far lives as long as the server: keep Python's full
    # collections from walking it (each walk held the GIL for ~200 ms with torch).
    gc.freeze()
    yield
    close_all()
    close_pool()  # no worker outlives the server


app = st.App("playground/ui/page.py", routes=routes(_is_origin_allowed), lifespan=lifespan)
