"""Entry point: `streamlit run app.py` serves the page plus the live stream (ASGI mode)."""

import gc
from contextlib import asynccontextmanager

import streamlit as st

from playground.live import ROUTES
from playground.runner import close_all, warm_up


@asynccontextmanager
async def lifespan(_app):
    warm_up()  # the trainers' forkserver imports torch now, not on the first visit
    # Everything imported so far lives as long as the server: keep Python's full
    # collections from walking it (each walk held the GIL for ~200 ms with torch).
    gc.freeze()
    yield
    close_all()  # no trainer process outlives the server


app = st.App("playground/ui/page.py", routes=ROUTES, lifespan=lifespan)
