"""The web server as ``python -m playground serve`` starts it: Streamlit's own
``streamlit run``, with the connection settings of ``server/connections.py`` on top."""

from __future__ import annotations

from collections.abc import Sequence

from streamlit.web import cli as streamlit_cli
from streamlit.web.server.starlette import starlette_server

from playground.server.connections import uvicorn_settings


def serve(options: Sequence[str]) -> int:
    """``streamlit run [APP] OPTIONS`` (APP: app.py unless the first option names one),
    its uvicorn with ``connections.uvicorn_settings()`` on top of Streamlit's own."""
    options = list(options)
    app = options.pop(0) if options and not options[0].startswith("-") else "app.py"
    # Streamlit builds uvicorn's settings in this one function (Streamlit is pinned in
    # pyproject.toml); tests/test_server.py checks that a server started so has them
    streamlits = starlette_server._get_uvicorn_config_kwargs
    starlette_server._get_uvicorn_config_kwargs = lambda: {**streamlits(), **uvicorn_settings()}
    streamlit_cli.main(["run", app, *options], prog_name="streamlit")
    return 0
