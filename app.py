"""Entry point: `streamlit run app.py` serves the page plus the live stream (ASGI mode)."""

from contextlib import asynccontextmanager

import streamlit as st

from playground.live import ROUTES
from playground.runner import close_all, warm_up


@asynccontextmanager
async def lifespan(_app):
    warm_up()  # the trainers' forkserver imports torch now, not on the first visit
    yield
    close_all()  # no trainer process outlives the server


app = st.App("playground/ui/page.py", routes=ROUTES, lifespan=lifespan)
