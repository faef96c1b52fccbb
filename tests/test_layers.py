"""The three layers import in one direction only: the engine knows neither the
server nor the page, the server knows the engine but not the page, and only the
page imports streamlit. Each layer is imported whole in a fresh interpreter."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import playground

LAYERS = {
    "engine": ("playground.server", "playground.ui", "streamlit"),
    "server": ("playground.ui", "streamlit"),
}


def modules(layer: str) -> list[str]:
    """A package and every module under it, subpackages included."""
    package = f"playground.{layer}"
    path = [str(__import__(package, fromlist=["x"]).__path__[0])]
    return [package] + [m.name for m in pkgutil.walk_packages(path, prefix=f"{package}.")]


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


def _imports(path, package_dirs) -> set[str]:
    """Every playground module a file imports, anywhere in it (type hints and imports
    inside functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "playground"):
            for alias in node.names:  # `from package import module` names a module
                full = f"{node.module}.{alias.name}"
                found.add(full if full in package_dirs else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("playground"))
    return found


def import_graph() -> dict[str, set[str]]:
    root = Path(playground.__file__).parent.parent
    paths = {}
    for path in Path(playground.__file__).parent.rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        paths[name.removesuffix(".__init__")] = path
    return {name: {m for m in _imports(path, paths) if m in paths and m != name}
            for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            part = []
            while True:
                member = stack.pop()
                part.append(member)
                if member == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_round_a_cycle():
    graph = import_graph()
    assert len(graph) > 60
    assert cycles(graph) == []
    # the check sees a cycle when there is one
    assert cycles({**graph, "playground.engine.nn.losses": {"playground.engine.train.group"}})


CORE = ("nn", "train", "config", "data")


@pytest.mark.parametrize("package", CORE)
def test_the_core_imports_no_lesson_and_no_file_format(package):
    """Lessons and formats build on the core; the core trains without them."""
    names = modules(f"engine.{package}")
    code = (f"import sys\nfor name in {names!r}:\n    __import__(name)\n"
            "bad = sorted(m for m in sys.modules if m.startswith(('playground.engine.teaching',"
            " 'playground.engine.formats')))\nassert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
