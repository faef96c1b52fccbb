"""The Plotly bundle the page serves: the committed file is the pinned npm package's
(``make plotly-bundle`` copies it), and the server sends it gzipped and cacheable."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from starlette.requests import Request

from playground.engine.config.config import Config
from playground.engine.data.datasets import DATASETS
from playground.server.live import PLOTLY_JS, plotly_js, plotly_src
from playground.ui.components import live_view_data

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "plotly.js-basic-dist-min"
# the trace types the bundle registers: every figure the live view draws keeps to them
BUNDLE_TRACES = {"scatter", "bar", "pie"}


def pinned_version() -> str:
    return json.loads((ROOT / "package.json").read_text())["devDependencies"][PACKAGE]


def test_the_committed_bundle_is_the_pinned_version_and_small():
    head = PLOTLY_JS.read_text()[:300]
    version = re.search(r"plotly\.js \(basic - minified\) v(\S+)", head).group(1)
    assert version == pinned_version()
    assert PLOTLY_JS.stat().st_size < 1.25e6  # the full bundle is 4.8 MB


def test_the_committed_bundle_equals_the_installed_package():
    """What `npm ci` installs from the lock file is what the repository serves (CI has
    node_modules; elsewhere this runs once `npm ci` has)."""
    installed = ROOT / "node_modules" / PACKAGE / "plotly-basic.min.js"
    if not installed.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("node_modules is missing in CI: run npm ci first")
        pytest.skip("npm ci has not run here")
    assert installed.read_bytes() == PLOTLY_JS.read_bytes(), "run make plotly-bundle"


def fetch(accept_encoding: str) -> tuple[int, dict, bytes]:
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"",
             "headers": [(b"accept-encoding", accept_encoding.encode())]}
    response = asyncio.run(plotly_js(Request(scope)))
    return response.status_code, dict(response.headers), response.body


def test_served_gzipped_to_a_browser_and_plain_to_a_client_without_gzip():
    raw = PLOTLY_JS.read_bytes()
    status, headers, body = fetch("gzip, deflate, br")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == raw and len(body) < len(raw) / 2.5
    assert "immutable" in headers["cache-control"] and headers["vary"] == "Accept-Encoding"
    status, headers, body = fetch("identity")
    assert "content-encoding" not in headers and body == raw
    # a new bundle gets a new URL, so the browser's copy never goes stale
    assert plotly_src().endswith(f"?v={hashlib.sha256(raw).hexdigest()[:12]}")


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_every_figure_of_the_live_view_is_drawn_by_the_bundle(dataset):
    """The live view's figures, for every data set, use only the bundle's trace types (a
    heatmap, say, would draw nothing: the confusion matrix is made of bars)."""
    config = Config.defaults_for(dataset)
    figures = live_view_data(config, None)["figures"]
    used = {trace.get("type", "scatter") for fig in figures.values() if fig
            for trace in fig["data"]}
    assert used <= BUNDLE_TRACES
