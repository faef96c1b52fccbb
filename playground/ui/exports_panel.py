"""The "Export and import" expander: downloads of the run and uploads that restore one.

Downloads are built only when clicked (``st.download_button`` with a callable runs it
on click, off the script thread): a script embeds the whole data set and weights need
decoding, too much to redo on every rerun. Uploads act once, in their ``on_change``
callback, and leave a one-sentence message for the next run of this expander.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
import torch

from playground.engine.config.config import Config
from playground.engine.data.points import fits_in_link
from playground.engine.formats.exports import (
    ImportProblem,
    config_from_json,
    config_json,
    history_csv,
    metric_name,
    params_from_state,
    params_from_weights_file,
    share_query,
    weights_file,
)
from playground.engine.formats.script_export import CHECK_EPOCHS, pytorch_script, stability
from playground.engine.train.trainer import initial_params
from playground.server.session import Session
from playground.ui.expanders import expander
from playground.ui.text import plain

MESSAGES = "export_messages"  # session_state key: [(kind, sentence)] for the next run
Message = tuple[str, str]  # ("error" | "warning" | "success", one sentence)


def import_config(data: bytes, on_config: Callable[[Config], None]) -> list[Message]:
    """Read a Config JSON and hand it on; nothing is handed on when the file is bad."""
    try:
        config, warnings = config_from_json(data)
    except ImportProblem as problem:
        return [("error", str(problem))]
    on_config(config)
    return [("success", "Loaded the settings from the file.")] + [
        ("warning", warning) for warning in warnings]


def import_weights(data: bytes, config: Config,
                   on_weights: Callable[[torch.Tensor], None]) -> list[Message]:
    """Read a weights file checked against this Config's network and hand it on."""
    try:
        params = params_from_weights_file(data, config)
    except ImportProblem as problem:
        return [("error", str(problem))]
    on_weights(params)
    return [("success", "Loaded the weights: training starts again from them at epoch 0.")]


def _on_upload(key: str, read: Callable[[bytes], list[Message]]) -> None:
    upload = st.session_state.get(key)
    if upload is not None:  # None: the visitor removed the file, nothing to do
        st.session_state[MESSAGES] = read(upload.getvalue())


def share_link(config: Config) -> str:
    """This page's address with the Config's settings (the query alone when the page
    does not know its address), for the page's "Share and reproduce" section."""
    base = (st.context.url or "").split("?")[0]
    query = share_query(config)
    return base + query if base or query else "(all defaults)"


def _current_weights(config: Config, session: Session) -> bytes:
    """The newest snapshot's weights (read when the button is clicked: the page does not
    rerun while training streams); before the first snapshot, the initial weights."""
    params = params_from_state(session.view().state, config)
    if params is None:
        params = initial_params(config)
    return weights_file(config, params)


def _history(config: Config, session: Session) -> str:
    return history_csv(session.view().history, metric_name(config))


def _script(config: Config, session: Session) -> str:
    return pytorch_script(config, max(1, int(session.snapshot()["epoch"])))


def _check_stability(config: Config, session: Session) -> None:
    """The button's callback: will the script reproduce this run? (Two short trainings:
    seconds, so only when asked.)"""
    epochs = max(1, int(session.snapshot()["epoch"]))
    checked = stability(config, epochs)
    st.session_state[MESSAGES] = [("success" if checked.reproducible else "warning",
                                   checked.sentence())]


def exports_section(config: Config, session: Session | None,
                    on_config: Callable[[Config], None],
                    on_weights: Callable[[torch.Tensor], None]) -> None:
    with expander("Export and import", "exports_open") as open_:
        if not open_:
            return
        for kind, text in st.session_state.pop(MESSAGES, []):
            getattr(st, kind)(plain(text))  # messages quote the file's own text
        if not fits_in_link(config):
            st.caption("Your own points are too many for a link: the Config file carries them.")
        config_col, weights_col, script_col, history_col = st.columns(4)
        config_col.download_button("Config (JSON)", config_json(config),
                                   file_name="playground-config.json", mime="application/json",
                                   on_click="ignore", key="export_config")
        weights_col.download_button(
            "Weights (safetensors)",
            (lambda: _current_weights(config, session)) if session else b"",
            file_name="playground-weights.safetensors", mime="application/octet-stream",
            on_click="ignore", key="export_weights", disabled=session is None,
            help="The weights as they are now (as of the last second while training).")
        script_col.download_button(
            "PyTorch script", (lambda: _script(config, session)) if session else "",
            file_name="playground_run.py", mime="text/x-python", on_click="ignore",
            key="export_script", disabled=session is None or config.tf_math,
            help=("A PyTorch script needs TF math off: TensorFlow Playground math is not "
                  "torch.optim's." if config.tf_math else
                  "Trains as many epochs as this run has (at least 1) with plain PyTorch, "
                  "and says at its top whether this run is stable enough to reproduce."))
        history_col.download_button(
            "History (CSV)", (lambda: _history(config, session)) if session else "",
            file_name="playground-history.csv", mime="text/csv", on_click="ignore",
            key="export_history", disabled=session is None)
        if session is not None and not config.tf_math:
            st.button("Will the script reproduce this run?", key="export_stability",
                      on_click=_check_stability, args=(config, session),
                      help=f"Trains the first epochs (at most {CHECK_EPOCHS}) twice, once "
                           "from weights changed by one part in a million: a run that "
                           "amplifies that also amplifies rounding, and no script repeats it.")
        # the server's maxUploadSize (.streamlit/config.toml) bounds both uploads
        st.file_uploader("Import a Config (JSON)", type=["json"], key="import_config",
                         on_change=_on_upload,
                         args=("import_config", lambda data: import_config(data, on_config)))
        st.file_uploader("Import weights (.safetensors)", type=["safetensors"],
                         key="import_weights", on_change=_on_upload,
                         args=("import_weights",
                               lambda data: import_weights(data, config, on_weights)))
