"""Expanders whose content is drawn only while they are open.

A closed expander's widgets still cost every visit: the script builds them, Streamlit
sends them, and the browser downloads each kind's code (a file uploader, a number
input, a radio, ...) and lays them out before the first screen is ready. These
expanders rerun the page when opened or closed (a fragment's expander reruns only
its fragment) and draw their body only while open.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import streamlit as st


@contextmanager
def expander(label: str, key: str, keep: Iterable[str] = ()) -> Iterator[bool]:
    """``with expander(label, key) as open_:`` an expander that holds whatever the block
    draws; the block draws only ``if open_``. Open it in a test (AppTest) with
    ``session_state[key] = True``.

    ``keep``: prefixes of the keys of widgets in the body whose values should outlast a
    close (a race's typed values): Streamlit forgets the values of the widgets a run
    does not draw. Never a button's or a file uploader's key: those cannot be set.
    """
    box = st.expander(label, key=key, on_change="rerun")
    is_open = bool(box.open)
    prefixes = tuple(keep)
    if not is_open and prefixes:
        for name in list(st.session_state.keys()):
            if name.startswith(prefixes):
                st.session_state[name] = st.session_state[name]  # kept as plain state
    with box:
        yield is_open
