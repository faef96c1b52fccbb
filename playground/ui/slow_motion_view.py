""""Inside one step": one training example through a tiny network, in slow motion.

The numbers come from ``engine/slow_motion.py``; this module only writes them out:
the network's values, the loss, the chain rule line by line (one layer per tab,
so a projector never shows a wall of numbers), the hand gradients next to
autograd's, and the update. The walk (its own copy of the weights and the next
example) lives in ``st.session_state`` and starts again when the network or the
training settings change. Nothing is computed until the visitor asks for it:
the page reruns on every control, and a closed expander must cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from playground.engine.config.config import Config
from playground.engine.teaching.slow_motion import (
    Step,
    differences_from_training,
    explain_step,
    next_example,
    start_walk,
    too_large,
)
from playground.engine.teaching.slow_motion_math import SCALAR_ACTIVATIONS, factor, number
from playground.engine.train.trainer import Trainer
from playground.server.render import NEGATIVE, POSITIVE, hex_colour
from playground.ui.expanders import expander

STATE_KEY = "slow_motion"
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
# the names of render.CLASS_COLOURS, as the plot paints the classes
COLOUR_NAMES = ("orange", "blue", "green", "purple", "red", "brown", "pink", "grey", "olive",
                "cyan")


def target_text(step: Step) -> str:
    """The example's target as the plot shows it: a value, or a class with its colour
    (binary: class 0 or 1, as in a CSV; several classes: class 1, 2, ... as the output
    nodes and the loss's [y = k] count them)."""
    if step.head == "regression":
        return significant(step.target)
    k = int(step.target)
    number_shown = k if step.head == "binary" else k + 1
    return f"class {number_shown} ({COLOUR_NAMES[k % len(COLOUR_NAMES)]})"


def significant(x: float, digits: int = 4) -> str:
    """A number to ``digits`` significant digits for plain text and the figure, where
    LaTeX (``number``) is not rendered (``plain_number`` keeps all of a setting's digits;
    a step's values need only enough to follow the arithmetic)."""
    return f"{x:.{digits}g}"


def _walk_from(config: Config, state: dict | None) -> dict:
    """A fresh walk from the session's snapshot, or the initial weights without one."""
    trainer, source = Trainer(config), "the initial weights"
    # a snapshot taken before a change of network or data does not fit this network
    if state is not None and not Config.from_params(state["config"])[0].restarts(
            config):
        trainer.restore(state)
        source = f"the session's weights at epoch {trainer.epoch:,}"
    return {"config": config, "trainer": trainer, "walk": start_walk(trainer), "source": source}


def _current(config: Config, state: dict | None) -> dict:
    kept = st.session_state.get(STATE_KEY)
    # a display setting changes only the picture; anything else starts the walk again
    if kept is None or kept["config"].effects(config) - {"display"}:
        kept = st.session_state[STATE_KEY] = _walk_from(config, state)
    return kept


def _go_tiny(on_tiny: Callable[[], None]) -> None:
    on_tiny()
    st.session_state["slow_open"] = True  # the visitor asked for the step: show it at once


def slow_motion_section(config: Config, state: dict | None,
                        on_tiny: Callable[[], None]) -> None:
    """The expander; ``state`` is the session's latest ``Trainer.state()`` (None: the
    initial weights), ``on_tiny`` switches the page to a 2-2-1 network."""
    with expander("Inside one step: training in slow motion", "slow_motion_open",
                  keep=("slow_open",)) as open_:
        if not open_:
            return
        refusal = too_large(config)
        if refusal:
            st.write(refusal)
            st.button("Use a 2-2-1 network", key="slow_tiny", on_click=_go_tiny, args=(on_tiny,))
            return
        st.caption("One training example at a time: the values in every neuron, the loss, "
                   "the chain rule with its numbers, checked against PyTorch's autograd, "
                   "and the update w ← w − η·∂L/∂w.")
        if not st.toggle("Show the step", key="slow_open"):
            return
        step = _step_controls(config, state)
        for sentence in differences_from_training(config):
            st.caption(sentence)
        st.plotly_chart(network_values_figure(step), key="slow_network",
                        config={"displayModeBar": False})
        st.markdown(f"**Loss** $\\;{step.output.loss_line}$ (the trainer's loss function "
                    f"gives {significant(step.objective_loss, 8)})")
        if not step.finite:
            st.warning("The loss or a weight is no longer a finite number: the learning rate "
                       "is too large for single steps; go back to the session's weights.")
            return
        _chain_rule(step)


def _step_controls(config: Config, state: dict | None) -> Step:
    """The buttons and the example's line; returns the step to show after any click.

    Plain buttons, not callbacks: "Back" must take the snapshot of this run, and a
    callback would get the one of the run that drew it."""
    kept = _current(config, state)
    left, middle, right = st.columns([3, 1.2, 2])
    step = explain_step(kept["trainer"], kept["walk"])
    moved = False
    if middle.button("Next example", key="slow_next", disabled=not step.finite,
                     help="Apply this update and take the next example of the training set."):
        kept["walk"], moved = next_example(kept["trainer"], kept["walk"], step), True
    if right.button("Back to the session's weights", key="slow_back"):
        kept, moved = _walk_from(config, state), True
        st.session_state[STATE_KEY] = kept
    if moved:
        step = explain_step(kept["trainer"], kept["walk"])
    target = target_text(step)
    inputs = ", ".join(f"{name} = {significant(v)}" for name, v in
                       zip(step.input_names, step.inputs))
    left.markdown(f"**Example {step.example + 1} of {step.n_examples}**: {inputs}; "
                  f"target {target}  \n<small>From {kept['source']}, "
                  f"{kept['walk'].steps} step(s) taken here.</small>",
                  unsafe_allow_html=True)
    return step


def _neuron_symbol(layer: int, index: int) -> str:
    """a of neuron ``index`` of layer ``layer`` (0: the inputs, written x)."""
    return f"x_{{{index + 1}}}" if layer == 0 else f"a^{{({layer})}}_{{{index + 1}}}"


def _hidden_lines(step: Step, hidden: int) -> list[str]:
    """δ of every neuron of hidden layer ``hidden`` (0-based), with its numbers."""
    layer, lines = hidden + 1, []
    slope = SCALAR_ACTIVATIONS[step.activations[hidden]].slope_formula
    for j, back in enumerate(step.back_sums[hidden]):
        symbols = " + ".join(f"w^{{({layer + 1})}}_{{{k + 1}{j + 1}}}\\,\\delta^{{({layer + 1})}}"
                             f"_{{{k + 1}}}" for k in range(len(back.terms)))
        numbers = " + ".join(f"{factor(w)} \\cdot {factor(d)}" for w, d in back.terms)
        neuron = step.layers[hidden][j]
        lines.append(
            f"$\\delta^{{({layer})}}_{{{j + 1}}} = ({symbols})\\, f'(z^{{({layer})}}_{{{j + 1}}}) "
            f"= ({numbers}) \\cdot {factor(back.slope)} = {number(back.delta)}$ "
            f"$\\quad f'(z) = {slope}$ at $z = {number(neuron.z)}$")
    return lines


def _gradient_lines(step: Step, layer: int) -> list[str]:
    """∂L/∂w and the update of every parameter of layer ``layer`` (0-based), with numbers."""
    lines = []
    penalized = step.regularization != "none" and step.reg_rate > 0
    for p in (p for p in step.params if p.layer == layer):
        if p.kind == "weight":
            name = f"w^{{({layer + 1})}}_{{{p.to + 1}{p.frm + 1}}}"
            rule = (f"\\delta^{{({layer + 1})}}_{{{p.to + 1}}}\\, {_neuron_symbol(layer, p.frm)} "
                    f"= {factor(p.delta)} \\cdot {factor(p.source)} = {number(p.hand)}")
        else:
            name = f"b^{{({layer + 1})}}_{{{p.to + 1}}}"
            rule = f"\\delta^{{({layer + 1})}}_{{{p.to + 1}}} = {number(p.hand)}"
        pull = (f"({factor(p.hand)} + {factor(p.penalty)})" if penalized and p.kind == "weight"
                else factor(p.hand))
        # autograd's value beside the hand one: the two sets of gradients side by side
        lines.append(f"$\\frac{{\\partial L}}{{\\partial {name}}} = {rule}$ "
                     f"(autograd: ${number(p.autograd)}$) "
                     f"$\\;\\Rightarrow\\; {name} \\leftarrow {number(p.value)} - "
                     f"{number(step.learning_rate)} \\cdot {pull} = {number(p.updated)}$")
    return lines


def _output_delta(line: str, layer: int) -> str:
    """The loss's δ line with the layer written in, as in the other layers' lines."""
    rest = line.removeprefix(r"\delta")
    return f"\\delta^{{({layer})}}" + (rest if rest.startswith("_") else "_{1}" + rest)


def _chain_rule(step: Step) -> None:
    n_layers = len(step.layers)
    st.markdown("**The chain rule, from the output back** (δ = ∂L/∂z of a neuron; "
                "wⱼᵢ joins neuron i of the layer before to neuron j)")
    titles = ["Output layer"] + [f"Hidden layer {h}" for h in range(n_layers - 1, 0, -1)]
    *layer_tabs, check_tab = st.tabs([*titles, "Chain rule and autograd, side by side"])
    with check_tab:
        _comparison_table(step)
    for tab, layer in zip(layer_tabs, range(n_layers - 1, -1, -1)):
        with tab:
            if layer == n_layers - 1:
                deltas = [f"${_output_delta(line, n_layers)}$" for line in step.output.delta_lines]
            else:
                deltas = _hidden_lines(step, layer)
            st.markdown("  \n".join(deltas))
            update = f"Gradients and updates (η = {significant(step.learning_rate)}"
            if step.regularization != "none" and step.reg_rate > 0:
                update += (f", plus the {step.regularization.upper()} penalty's pull "
                           f"λ = {significant(step.reg_rate)} on the weights")
            st.caption(update + "):")
            st.markdown("  \n".join(_gradient_lines(step, layer)))


def parameter_name(kind: str, layer: int, to: int, frm: int | None) -> str:
    """Plain text for a table: w₁₂⁽¹⁾ (to neuron 1 from 2, layer 1) or b₁⁽¹⁾."""
    indices = f"{to + 1}{'' if frm is None else frm + 1}".translate(SUBSCRIPTS)
    return f"{kind[0]}{indices}⁽{str(layer + 1).translate(SUPERSCRIPTS)}⁾"


def _comparison_table(step: Step) -> None:
    st.caption("Every gradient twice, side by side: by the chain rule (the layer tabs' "
               "arithmetic) and by PyTorch's autograd on the trainer's loss from the same "
               f"weights (float64). The largest difference is {step.max_difference:.1e}: "
               "they match to rounding.")
    rows = [{"parameter": parameter_name(p.kind, p.layer, p.to, p.frm), "value": p.value,
             "chain rule": p.hand, "autograd": p.autograd, "difference": p.difference,
             "after the step": p.updated} for p in step.params]
    number_column = st.column_config.NumberColumn(format="%.6f")
    st.dataframe(rows, hide_index=True, height=min(35 * len(rows) + 38, 400),
                 column_config={"value": number_column, "chain rule": number_column,
                                "autograd": number_column, "after the step": number_column,
                                "difference": st.column_config.NumberColumn(format="%.1e")})


def network_values_figure(step: Step) -> go.Figure:
    """The network with this example's values: inputs, each neuron's z and a, the outputs;
    links coloured by the weight's sign and as thick as it is large."""
    columns = [len(step.inputs)] + [len(layer) for layer in step.layers]

    def height(layer: int, index: int) -> float:
        return (columns[layer] - 1) / 2 - index

    fig = go.Figure()
    weights = [p for p in step.params if p.kind == "weight"]
    largest = max((abs(p.value) for p in weights), default=1.0) or 1.0
    for p in weights:
        fig.add_trace(go.Scatter(
            x=[p.layer, p.layer + 1], y=[height(p.layer, p.frm), height(p.layer + 1, p.to)],
            mode="lines", hoverinfo="text", showlegend=False,
            text=f"w = {significant(p.value)}, ∂L/∂w = {significant(p.hand)}",
            line=dict(color=hex_colour(POSITIVE if p.value >= 0 else NEGATIVE),
                      width=1 + 5 * abs(p.value) / largest)))
    deltas = [[s.delta for s in layer] for layer in step.back_sums] + [list(step.output.deltas)]
    xs, ys, labels, hovers = [], [], [], []
    for i, (name, value) in enumerate(zip(step.input_names, step.inputs)):
        xs.append(0), ys.append(height(0, i))
        labels.append(f"{name} = {significant(value, 3)}"), hovers.append(name)
    for layer, neurons in enumerate(step.layers, start=1):
        output = layer == len(step.layers)
        for j, neuron in enumerate(neurons):
            xs.append(layer), ys.append(height(layer, j))
            second = (f"ŷ {significant(step.output.prediction[j], 3)}" if output
                      else f"a {significant(neuron.a, 3)}")
            labels.append(f"z {significant(neuron.z, 3)}<br>{second}")
            hovers.append(f"δ = ∂L/∂z = {significant(deltas[layer - 1][j])}")
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers+text", text=labels, textposition="top center",
        hovertext=hovers, hoverinfo="text", showlegend=False, textfont=dict(size=13),
        marker=dict(size=22, color="white", line=dict(color="#444", width=2))))
    tallest = max(columns)
    fig.update_layout(
        height=120 + 70 * tallest, margin=dict(l=10, r=10, t=10, b=10), uirevision="slow",
        plot_bgcolor="white",
        xaxis=dict(visible=False, range=[-0.4, len(columns) - 0.6], fixedrange=True),
        yaxis=dict(visible=False, range=[-tallest / 2 - 0.1, tallest / 2 + 0.3],
                   fixedrange=True))
    return fig
