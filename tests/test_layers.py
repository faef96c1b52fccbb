"""The three layers import in one direction only: the engine knows neither the
server nor the page, the server knows the engine but not the page, and only the
page imports streamlit. Each layer is imported whole in a fresh interpreter."""

import pkgutil
import subprocess
import sys

import pytest

import playground

LAYERS = {
    "engine": ("playground.server", "playground.ui", "streamlit"),
    "server": ("playground.ui", "streamlit"),
}


def modules(layer: str) -> list[str]:
    package = f"playground.{layer}"
    path = [str(__import__(package, fromlist=["x"]).__path__[0])]
    return [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules(path)]


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_a_layer_imports_nothing_above_it(layer):
    names = modules(layer)
    assert len(names) > 3
    forbidden = LAYERS[layer]
    code = (f"import sys\nfor name in {names!r}:\n    __import__(name)\n"
            f"bad = sorted(m for m in sys.modules if m.startswith({forbidden!r}))\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_cli_and_the_figures_work_without_streamlit():
    code = ("import sys, playground.cli, playground.ui.plots, playground.ui.thumbnails; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_module_is_left_at_the_top_but_the_entry_points():
    top = {m.name for m in pkgutil.iter_modules(playground.__path__)}
    assert top == {"engine", "server", "ui", "cli", "__main__"}
